// Garbage collection (system administrators): run it now (optionally as a dry run, with
// untagged artifacts, with 1-10 workers), its schedule (None, Hourly, Daily, Weekly or a
// custom 6-field cron, with the same parameters), and the history of runs with what each
// freed and a link to its log; a running one can be stopped. Harbor's /system/gc (docs/lifecycle.md).
import { formatBytes, formatTime, h, replace } from "./dom.js";
import { pagedTable, rowAction, rowButton } from "./lists.js";
import { field, formError, handleSubmit, showMessage, table } from "./widgets.js";

const PAGE_SIZE = 10;
const API_BASE = "../api/v2.0"; // relative to the console page, as in api.js
const TYPES = ["None", "Hourly", "Daily", "Weekly", "Custom"];

function parameters(f) {
  return { delete_untagged: f.delete_untagged.checked, dry_run: f.dry_run ? f.dry_run.checked : false, workers: Number(f.workers.value) };
}

function freed(run) {
  const p = JSON.parse(run.job_parameters || "{}");
  const bytes = (p.freed_bytes || 0) + (p.freed_upload_bytes || 0);
  const what = `${p.freed_blobs || 0} blobs, ${p.freed_manifests || 0} manifests, ${formatBytes(bytes)}`;
  return p.dry_run ? `would free ${what}` : what;
}

function workerOptions() {
  return Array.from({ length: 10 }, (_, i) => ({ value: String(i + 1), label: String(i + 1) }));
}

export function render({ api, container, setTitle }) {
  setTitle("Garbage collection");

  // -- run now ----------------------------------------------------------------------------
  const runError = formError();
  runError.id = "gc-run-error";
  const runForm = h(
    "form",
    { class: "card", id: "gc-run", "aria-labelledby": "gc-run-title" },
    h("h2", { id: "gc-run-title" }, "Run now"),
    h(
      "div",
      { class: "fields" },
      field("Delete untagged artifacts", { name: "delete_untagged", id: "gc-run-untagged", type: "checkbox" }),
      field("Dry run (report only)", { name: "dry_run", id: "gc-run-dry", type: "checkbox" }),
      field("Workers", { name: "workers", id: "gc-run-workers" }, workerOptions()),
    ),
    runError,
    h("div", { class: "actions" }, h("button", { type: "submit", id: "gc-run-submit" }, "GC now")),
  );
  handleSubmit(
    runForm,
    runError,
    (f) => api.post("/system/gc/schedule", { schedule: { type: "Manual" }, parameters: parameters(f) }),
    () => {
      showMessage("Garbage collection started.");
      return history.refresh();
    },
  );

  // -- the schedule -------------------------------------------------------------------------
  const scheduleError = formError();
  scheduleError.id = "gc-schedule-error";
  const current = h("p", { id: "gc-schedule-current" }, "Loading…");
  const scheduleForm = h(
    "form",
    { class: "card", id: "gc-schedule", "aria-labelledby": "gc-schedule-title" },
    h("h2", { id: "gc-schedule-title" }, "Schedule"),
    current,
    h(
      "div",
      { class: "fields" },
      field("Type", { name: "type", id: "gc-schedule-type" }, TYPES.map((t) => ({ value: t, label: t }))),
      field("Cron (6 fields, seconds first)", { name: "cron", id: "gc-schedule-cron", placeholder: "0 0 3 * * 6", autocomplete: "off" }),
      field("Delete untagged artifacts", { name: "delete_untagged", id: "gc-schedule-untagged", type: "checkbox" }),
      field("Workers", { name: "workers", id: "gc-schedule-workers" }, workerOptions()),
    ),
    scheduleError,
    h("div", { class: "actions" }, h("button", { type: "submit", id: "gc-schedule-submit" }, "Save")),
  );
  handleSubmit(
    scheduleForm,
    scheduleError,
    async (f) => {
      const schedule = { type: f.type.value };
      if (f.type.value === "Custom") {
        schedule.cron = f.cron.value.trim();
      }
      await api.put("/system/gc/schedule", { schedule, parameters: { ...parameters(f), dry_run: false } });
    },
    () => {
      showMessage("Schedule saved.");
      return loadSchedule();
    },
  );

  async function loadSchedule() {
    const { data } = await api.get("/system/gc/schedule");
    const f = scheduleForm.elements;
    if (!data || !data.schedule) {
      current.textContent = "No schedule: garbage collection runs only when started.";
      f.type.value = "None";
      return;
    }
    const p = JSON.parse(data.job_parameters || "{}");
    current.textContent = `${data.schedule.type} (${data.schedule.cron}); next run ${formatTime(data.schedule.next_scheduled_time)}`;
    f.type.value = data.schedule.type;
    f.cron.value = data.schedule.cron;
    f.delete_untagged.checked = Boolean(p.delete_untagged);
    f.workers.value = String(p.workers || 1);
  }

  // -- history ----------------------------------------------------------------------------------
  const historyList = h("div", { class: "list", id: "gc-history" });
  const history = pagedTable({
    container: historyList,
    pageSize: PAGE_SIZE,
    label: "Garbage collection pages",
    load: (query) => api.get("/system/gc", query),
    render: (rows) =>
      table({
        id: "gc-history-table",
        rows,
        empty: "No garbage collection has run yet.",
        columns: [
          { title: "Run", cell: (r) => String(r.id) },
          { title: "Trigger", cell: (r) => r.job_kind },
          { title: "Status", cell: (r) => h("span", { class: "gc-status" }, r.job_status) },
          { title: "Started", cell: (r) => formatTime(r.creation_time) },
          { title: "Updated", cell: (r) => formatTime(r.update_time) },
          { title: "Freed", cell: (r) => h("span", { class: "gc-freed" }, freed(r)) },
          {
            title: "Actions",
            cell: (r) =>
              h(
                "div",
                { class: "row-actions" },
                h("a", { href: `${API_BASE}/system/gc/${r.id}/log`, target: "_blank", rel: "noopener", class: "gc-log" }, "Log"),
                r.job_status === "Running" || r.job_status === "Pending"
                  ? rowButton("Stop", `run ${r.id}`, (b) =>
                      rowAction(b, { run: () => api.put(`/system/gc/${r.id}`), message: `Run ${r.id} stopped.`, refresh: history.refresh }),
                    )
                  : null,
              ),
          },
        ],
      }),
  });

  replace(
    container,
    h("div", { class: "page-head" }, h("h1", {}, "Garbage collection")),
    h(
      "p",
      {},
      "Frees the storage of blobs and manifests nothing names any more, and what abandoned uploads left. " +
        "Pushes and pulls go on while it runs.",
    ),
    runForm,
    scheduleForm,
    h(
      "section",
      { id: "gc-runs", "aria-labelledby": "gc-runs-title" },
      h(
        "div",
        { class: "page-head" },
        h("h2", { id: "gc-runs-title" }, "History"),
        h("button", { type: "button", class: "secondary", id: "gc-refresh", onclick: () => history.refresh() }, "Refresh"),
      ),
      historyList,
    ),
  );
  return Promise.all([history.refresh(), loadSchedule()]);
}
