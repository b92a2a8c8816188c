// An audit log list, newest first, paged: the whole log (admins) or a project's.
import { formatTime, h, replace } from "./dom.js";
import { pagedTable } from "./lists.js";
import { field, table } from "./widgets.js";

const PAGE_SIZE = 20;
const OPERATIONS = ["", "create", "update", "delete", "push", "pull"];

export function renderLogList({ api, container, path, id, title }) {
  const filter = { username: "", operation: "" };
  const list = h("div", { class: "list", id });

  function conditions() {
    const all = [];
    if (filter.username) {
      all.push(`username=${filter.username}`);
    }
    if (filter.operation) {
      all.push(`operation=${filter.operation}`);
    }
    return all.join(",");
  }

  const pages = pagedTable({
    container: list,
    pageSize: PAGE_SIZE,
    label: `${title} pages`,
    load: (query) => api.get(path, { ...query, q: conditions() }),
    render: (rows) =>
      table({
        id: `${id}-table`,
        rows,
        empty: "No entries.",
        columns: [
          { title: "Time", cell: (e) => formatTime(e.op_time) },
          { title: "User", cell: (e) => e.username },
          { title: "Operation", cell: (e) => e.operation },
          { title: "Resource type", cell: (e) => e.resource_type },
          { title: "Resource", cell: (e) => h("span", { class: "mono" }, e.resource) },
        ],
      }),
  });

  const filters = h(
    "form",
    { class: "toolbar", role: "search", "aria-label": `Filter the ${title.toLowerCase()}` },
    field("User", { type: "search", name: "username", autocomplete: "off" }),
    field("Operation", { name: "operation" }, OPERATIONS.map((o) => ({ value: o, label: o || "any" }))),
    h("button", { type: "submit", class: "secondary" }, "Filter"),
    h("button", { type: "button", class: "secondary", onclick: () => pages.refresh() }, "Refresh"),
  );
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    filter.username = filters.elements.username.value.trim();
    filter.operation = filters.elements.operation.value;
    pages.firstPage();
  });
  replace(container, filters, list);
  return pages.refresh();
}
