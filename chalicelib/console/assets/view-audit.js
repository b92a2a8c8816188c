// The audit log (system administrators): every entry, newest first, paged.
import { h, replace } from "./dom.js";
import { renderLogList } from "./logs.js";

export function render({ api, container, setTitle }) {
  setTitle("Audit log");
  const body = h("div", {});
  replace(container, h("h1", {}, "Audit log"), body);
  return renderLogList({ api, container: body, path: "/audit-logs", id: "audit-log", title: "Audit log" });
}
