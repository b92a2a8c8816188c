// An audit log list, newest first, paged: the whole log (admins) or a project's.
import { formatTime, h, replace } from "./dom.js";
import { field, loadInto, pager, table } from "./widgets.js";

const PAGE_SIZE = 20;
const OPERATIONS = ["", "create", "update", "delete", "push", "pull"];

export function renderLogList({ api, container, path, id, title }) {
  const state = { page: 1, username: "", operation: "" };
  const list = h("div", { class: "list", id });

  function refresh() {
    return loadInto(list, async () => {
      const conditions = [];
      if (state.username) {
        conditions.push(`username=${state.username}`);
      }
      if (state.operation) {
        conditions.push(`operation=${state.operation}`);
      }
      const query = { page: state.page, page_size: PAGE_SIZE, q: conditions.join(",") };
      const { data, total } = await api.get(path, query);
      return [
        table({
          id: `${id}-table`,
          rows: data,
          empty: "No entries.",
          columns: [
            { title: "Time", cell: (e) => formatTime(e.op_time) },
            { title: "User", cell: (e) => e.username },
            { title: "Operation", cell: (e) => e.operation },
            { title: "Resource type", cell: (e) => e.resource_type },
            { title: "Resource", cell: (e) => h("span", { class: "mono" }, e.resource) },
          ],
        }),
        pager({ page: state.page, pageSize: PAGE_SIZE, total: total ?? data.length, label: `${title} pages`, onChange: (n) => ((state.page = n), refresh()) }),
      ];
    });
  }

  const filters = h(
    "form",
    { class: "toolbar", role: "search", "aria-label": `Filter the ${title.toLowerCase()}` },
    field("User", { type: "search", name: "username", autocomplete: "off" }),
    field("Operation", { name: "operation" }, OPERATIONS.map((o) => ({ value: o, label: o || "any" }))),
    h("button", { type: "submit", class: "secondary" }, "Filter"),
    h("button", { type: "button", class: "secondary", onclick: () => refresh() }, "Refresh"),
  );
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    state.username = filters.elements.username.value.trim();
    state.operation = filters.elements.operation.value;
    state.page = 1;
    refresh();
  });
  replace(container, filters, list);
  return refresh();
}
