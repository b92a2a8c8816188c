// The runtime configuration (system administrators), read only: change it with
// PUT /api/v2.0/configurations.
import { h, replace } from "./dom.js";
import { loadInto, table } from "./widgets.js";

function shown(value) {
  if (value === "" || value === null || value === undefined) {
    return h("span", { class: "muted" }, "(not set)");
  }
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

export function render({ api, container, setTitle }) {
  setTitle("Configuration");
  const list = h("div", { class: "list", id: "configuration" });
  replace(
    container,
    h("h1", {}, "Configuration"),
    h("p", { class: "hint" }, "Read only here; change settings with PUT /api/v2.0/configurations."),
    list,
  );
  return loadInto(list, async () => {
    const { data } = await api.get("/configurations");
    const rows = Object.keys(data || {})
      .sort()
      .map((key) => ({ key, value: data[key] && typeof data[key] === "object" && "value" in data[key] ? data[key].value : data[key] }));
    return table({
      id: "configuration-table",
      rows,
      columns: [
        { title: "Setting", cell: (r) => h("code", {}, r.key) },
        { title: "Value", cell: (r) => shown(r.value) },
      ],
    });
  });
}
