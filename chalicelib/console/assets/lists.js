// The lists of the pages: a table loaded a page at a time, the search form
// above it, and the buttons of its rows with what they do.
import { h } from "./dom.js";
import { confirmAction, field, loadInto, pager, showMessage, whileBusy } from "./widgets.js";

// A table loaded into `container` one page at a time: `load(query, search)`
// answers {data, total} for the query {page, page_size} and the text searched
// for, `render(rows, search)` makes the table, and a pager (`label`) goes under
// it. Returns {refresh(), firstPage(), searchFor(text)}; the last two start
// again at page 1.
export function pagedTable({ container, pageSize, label, load, render }) {
  let page = 1;
  let search = "";

  function refresh() {
    return loadInto(container, async () => {
      const { data, total } = await load({ page, page_size: pageSize }, search);
      return [
        render(data, search),
        pager({ page, pageSize, total: total ?? data.length, label, onChange: (n) => ((page = n), refresh()) }),
      ];
    });
  }

  function firstPage() {
    page = 1;
    return refresh();
  }

  function searchFor(text) {
    search = text;
    return firstPage();
  }

  return { refresh, firstPage, searchFor };
}

// A search form: a search field (`label`, id `inputId`) and a Search button;
// `onSearch(text)` gets the trimmed text.
export function searchForm({ id, label, inputId, onSearch }) {
  const form = h(
    "form",
    { class: "toolbar", role: "search", id },
    field(label, { type: "search", name: "search", id: inputId }),
    h("button", { type: "submit", class: "secondary" }, "Search"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    onSearch(form.elements.search.value.trim());
  });
  return form;
}

// A small button in a table row: it shows `text`, and `subject` ("project x")
// completes it for screen readers; `onClick(button)`.
export function rowButton(text, subject, onClick, { kind = "danger", className = null } = {}) {
  return h(
    "button",
    { type: "button", class: className ? `${kind} small ${className}` : `${kind} small`, onclick: (event) => onClick(event.currentTarget) },
    text,
    h("span", { class: "visually-hidden" }, ` ${subject}`),
  );
}

// What a row's button does: asks `question` first when there is one (`confirmLabel`
// on the button that agrees), runs `run` with `button` busy (a failure becomes an
// error message), then says `message` and reloads with `refresh`.
export async function rowAction(button, { question = null, confirmLabel = "Delete", run, message, refresh }) {
  if (question && !(await confirmAction(question, confirmLabel))) {
    return;
  }
  const done = await whileBusy(button, async () => {
    await run();
    return true;
  });
  if (done) {
    showMessage(message);
    await refresh();
  }
}
