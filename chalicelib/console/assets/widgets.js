// The pieces every page is made of: messages, tables, paging, forms, confirmation.
import { h, replace } from "./dom.js";

// -- messages ----------------------------------------------------------------------------------
const INFO_SECONDS = 8;

function messageArea() {
  return document.getElementById("messages");
}

// An error stays until dismissed or the next page; a notice goes by itself.
export function showMessage(text, kind = "info") {
  const close = h("button", { type: "button", class: "link", "aria-label": "Dismiss message" }, "×");
  const message = h(
    "div",
    { class: `message ${kind}`, role: kind === "error" ? "alert" : null },
    h("span", { class: "message-text" }, text),
    close,
  );
  close.addEventListener("click", () => message.remove());
  messageArea().append(message);
  if (kind !== "error") {
    setTimeout(() => message.remove(), INFO_SECONDS * 1000);
  }
  return message;
}

export function showError(error) {
  if (error && error.status === 401) {
    return null; // the session ended: the login page that replaced this one says so
  }
  return showMessage(describe(error), "error");
}

export function clearMessages() {
  messageArea().replaceChildren();
}

export function describe(error) {
  if (error && error.status === 403) {
    return `Not allowed: ${error.message}`;
  }
  return error && error.message ? error.message : String(error);
}

// -- loading -----------------------------------------------------------------------------------
export function loading(text = "Loading…") {
  return h("p", { class: "loading", role: "status" }, text);
}

// the latest load of each container: an older one that answers late is dropped
const latestLoad = new WeakMap();

// Fill `container` with what `load()` renders; "Loading…" meanwhile, the error if it fails.
export async function loadInto(container, load) {
  const ticket = (latestLoad.get(container) || 0) + 1;
  latestLoad.set(container, ticket);
  container.setAttribute("aria-busy", "true");
  replace(container, loading());
  let content;
  try {
    content = await load();
  } catch (error) {
    content = h("p", { class: "error", role: "alert" }, describe(error));
  }
  if (latestLoad.get(container) === ticket) {
    replace(container, content);
    container.removeAttribute("aria-busy");
  }
}

// Run `action` with `button` disabled; errors go to `report` (default: a message).
export async function whileBusy(button, action, report = showError) {
  const buttons = button ? [button] : [];
  for (const b of buttons) {
    b.disabled = true;
    b.setAttribute("aria-busy", "true");
  }
  try {
    return await action();
  } catch (error) {
    report(error);
    return undefined;
  } finally {
    for (const b of buttons) {
      b.disabled = false;
      b.removeAttribute("aria-busy");
    }
  }
}

// -- tables ------------------------------------------------------------------------------------
// columns: [{title, cell(row) -> node or text, class?}]
export function table({ columns, rows, empty = "Nothing here yet.", caption, id }) {
  if (!rows.length) {
    return h("p", { class: "empty", id }, empty);
  }
  return h(
    "table",
    { class: "grid", id },
    caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.class }, c.title)))),
    h(
      "tbody",
      {},
      rows.map((row) => h("tr", {}, columns.map((c) => h("td", { class: c.class, "data-label": c.title }, c.cell(row))))),
    ),
  );
}

export function pager({ page, pageSize, total, onChange, label = "Pages" }) {
  const pages = Math.max(1, Math.ceil((total || 0) / pageSize));
  if (pages <= 1) {
    return total ? h("p", { class: "pager-summary" }, `${total} in total`) : null;
  }
  return h(
    "nav",
    { class: "pager", "aria-label": label },
    h("button", { type: "button", class: "secondary", disabled: page <= 1, onclick: () => onChange(page - 1) }, "‹ Previous"),
    h("span", { class: "pager-summary" }, `Page ${page} of ${pages} (${total} in total)`),
    h("button", { type: "button", class: "secondary", disabled: page >= pages, onclick: () => onChange(page + 1) }, "Next ›"),
  );
}

// -- forms -------------------------------------------------------------------------------------
let fieldCount = 0;

// A labelled input (or select, with `options`); `hideLabel` keeps the label for
// screen readers only, where the place makes the meaning plain
export function field(label, { hideLabel = false, ...props } = {}, options = null) {
  fieldCount += 1;
  const id = props.id || `field-${fieldCount}`;
  const control = options
    ? h("select", { ...props, id }, options.map((o) => h("option", { value: o.value, selected: o.selected }, o.label)))
    : h("input", { type: "text", ...props, id });
  const caption = h("label", { for: id, class: hideLabel ? "visually-hidden" : null }, label);
  if (props.type === "checkbox") {
    return h("div", { class: "field checkbox" }, control, caption);
  }
  return h("div", { class: "field" }, caption, control);
}

export function formError() {
  return h("p", { class: "form-error", role: "alert", hidden: true });
}

export function setFormError(element, error) {
  if (error) {
    element.textContent = describe(error);
    element.hidden = false;
  } else {
    element.textContent = "";
    element.hidden = true;
  }
}

// -- confirmation ------------------------------------------------------------------------------
// Resolves to true when the person confirms; the dialog is index.html's <dialog id="confirm">.
export function confirmAction(text, actionLabel = "Delete") {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = actionLabel;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "cancel";
    dialog.showModal();
    document.getElementById("confirm-cancel").focus();
  });
}
