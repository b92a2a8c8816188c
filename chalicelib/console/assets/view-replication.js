// Replication (system administrators): the registries replication copies to and from
// (add, test the connection, delete), the rules (add, run now, delete) and the runs
// with their tasks (one per artifact: status, bytes, error, log), which can be stopped
// or retried for what failed. Harbor's /registries and /replication/* (docs/replication.md).
import { formatBytes, formatTime, h, replace } from "./dom.js";
import { pagedTable, rowAction, rowButton } from "./lists.js";
import { createForm, field, showMessage, table } from "./widgets.js";

const PAGE_SIZE = 10;
const API_BASE = "../api/v2.0"; // relative to the console page, as in api.js

export function render(ctx) {
  const { api, container, setTitle } = ctx;
  setTitle("Replication");
  let registries = [];
  let policies = [];

  // -- registries -----------------------------------------------------------------------------
  const registryList = h("div", { class: "list", id: "registry-list" });
  const registryPages = pagedTable({
    container: registryList,
    pageSize: PAGE_SIZE,
    label: "Registry pages",
    load: async (query) => {
      const answer = await api.get("/registries", query);
      registries = answer.data;
      return answer;
    },
    render: (rows) =>
      table({
        id: "registries-table",
        rows,
        empty: "No registries yet.",
        columns: [
          { title: "Name", cell: (r) => h("span", { class: "registry-name" }, r.name) },
          { title: "Type", cell: (r) => r.type },
          { title: "URL", cell: (r) => r.url },
          { title: "Status", cell: (r) => h("span", { class: "registry-status" }, r.status) },
          {
            title: "Actions",
            cell: (r) =>
              h(
                "div",
                { class: "row-actions" },
                rowButton("Test connection", `to ${r.name}`, (b) => testConnection(b, r), { kind: "secondary", className: "test-registry" }),
                rowButton("Delete", `registry ${r.name}`, (b) =>
                  rowAction(b, {
                    question: `Delete registry ${r.name}?`,
                    run: () => api.delete(`/registries/${r.id}`),
                    message: `Registry ${r.name} deleted.`,
                    refresh: refreshAll,
                  }),
                ),
              ),
          },
        ],
      }),
  });

  function testConnection(button, registry) {
    return rowAction(button, {
      run: () => api.post("/registries/ping", { id: registry.id }),
      message: `${registry.name} answers and takes its credentials.`,
      refresh: registryPages.refresh,
    }).finally(registryPages.refresh);
  }

  const newRegistry = createForm({
    name: "registry",
    title: "New registry",
    focus: "name",
    content: h(
      "div",
      { class: "fields" },
      field("Name", { name: "name", id: "registry-name", required: true, maxlength: 64, autocomplete: "off" }),
      field("Type", { name: "type", id: "registry-type" }, [
        { value: "docker-registry", label: "Docker registry (OCI distribution)" },
        { value: "harbor", label: "Harbor (or another Berth)" },
      ]),
      field("URL", { name: "url", id: "registry-url", required: true, placeholder: "scheme://host:port", autocomplete: "off" }),
      field("Access key", { name: "access_key", id: "registry-access-key", autocomplete: "off" }),
      field("Access secret", { name: "access_secret", id: "registry-access-secret", type: "password", autocomplete: "new-password" }),
    ),
    send: async (f) => {
      const body = { name: f.name.value.trim(), type: f.type.value, url: f.url.value.trim() };
      if (f.access_key.value.trim()) {
        body.credential = { type: "basic", access_key: f.access_key.value.trim(), access_secret: f.access_secret.value };
      }
      await api.post("/registries", body);
      return body.name;
    },
    sent: (name) => {
      showMessage(`Registry ${name} added.`);
      return refreshAll();
    },
  });

  // -- rules (policies) -------------------------------------------------------------------------
  const policyList = h("div", { class: "list", id: "policy-list" });
  const policyPages = pagedTable({
    container: policyList,
    pageSize: PAGE_SIZE,
    label: "Rule pages",
    load: async (query) => {
      const answer = await api.get("/replication/policies", query);
      policies = answer.data;
      return answer;
    },
    render: (rows) =>
      table({
        id: "policies-table",
        rows,
        empty: "No replication rules yet.",
        columns: [
          { title: "Name", cell: (p) => h("span", { class: "policy-name" }, p.name) },
          { title: "Direction", cell: (p) => (p.src_registry.id ? `pull from ${p.src_registry.name}` : `push to ${p.dest_registry.name}`) },
          { title: "Filters", cell: (p) => p.filters.map((f) => `${f.type}${f.decoration === "excludes" ? " not" : ""}: ${f.value}`).join(", ") || "everything" },
          { title: "Destination namespace", cell: (p) => p.dest_namespace || "—" },
          { title: "Trigger", cell: (p) => (p.trigger.type === "scheduled" ? `scheduled (${p.trigger.trigger_settings.cron})` : p.trigger.type) },
          { title: "Enabled", cell: (p) => (p.enabled ? "Yes" : "No") },
          {
            title: "Actions",
            cell: (p) =>
              h(
                "div",
                { class: "row-actions" },
                rowButton("Replicate", `rule ${p.name}`, (b) =>
                  rowAction(b, {
                    run: () => api.post("/replication/executions", { policy_id: p.id }),
                    message: `Rule ${p.name} started.`,
                    refresh: executionPages.refresh,
                  }),
                  { kind: "secondary", className: "run-policy" },
                ),
                rowButton("Delete", `rule ${p.name}`, (b) =>
                  rowAction(b, {
                    question: `Delete rule ${p.name}?`,
                    run: () => api.delete(`/replication/policies/${p.id}`),
                    message: `Rule ${p.name} deleted.`,
                    refresh: policyPages.refresh,
                  }),
                ),
              ),
          },
        ],
      }),
  });

  const registryChoice = h("select", { name: "registry", id: "policy-registry", required: true });
  const newPolicy = createForm({
    name: "policy",
    title: "New rule",
    focus: "name",
    content: h(
      "div",
      { class: "fields" },
      field("Name", { name: "name", id: "policy-name", required: true, maxlength: 256, autocomplete: "off" }),
      field("Direction", { name: "direction", id: "policy-direction" }, [
        { value: "push", label: "Push: from this registry to the other" },
        { value: "pull", label: "Pull: from the other registry to this one" },
      ]),
      h("div", { class: "field" }, h("label", { for: "policy-registry" }, "Other registry"), registryChoice),
      field("Repositories", { name: "name_filter", id: "policy-name-filter", placeholder: "library/** or {a,b}/app", autocomplete: "off" }),
      field("Tags", { name: "tag_filter", id: "policy-tag-filter", placeholder: "v* (empty: all)", autocomplete: "off" }),
      field("Labels (artifacts carrying all of them)", { name: "label_filter", id: "policy-label-filter", placeholder: "prod, signed (empty: any)", autocomplete: "off" }),
      field("Destination namespace", { name: "dest_namespace", id: "policy-namespace", autocomplete: "off" }),
      field("Trigger", { name: "trigger", id: "policy-trigger" }, [
        { value: "manual", label: "Manual" },
        { value: "event_based", label: "On push (push rules)" },
        { value: "scheduled", label: "Scheduled" },
      ]),
      field("Cron (6 fields, seconds first)", { name: "cron", id: "policy-cron", placeholder: "0 0 3 * * *", autocomplete: "off" }),
      field("Enabled", { name: "enabled", id: "policy-enabled", type: "checkbox", checked: true }),
      field("Delete at the destination what is deleted here (on-push rules)", { name: "replicate_deletion", id: "policy-deletion", type: "checkbox" }),
    ),
    send: async (f) => {
      const registry = { id: Number(f.registry.value) };
      const body = { name: f.name.value.trim(), enabled: f.enabled.checked, override: true, filters: [] };
      if (f.direction.value === "push") {
        body.dest_registry = registry;
      } else {
        body.src_registry = registry;
      }
      if (f.name_filter.value.trim()) {
        body.filters.push({ type: "name", value: f.name_filter.value.trim() });
      }
      if (f.tag_filter.value.trim()) {
        body.filters.push({ type: "tag", value: f.tag_filter.value.trim(), decoration: "matches" });
      }
      const labels = f.label_filter.value.split(",").map((s) => s.trim()).filter(Boolean);
      if (labels.length) {
        body.filters.push({ type: "label", value: labels, decoration: "matches" });
      }
      body.replicate_deletion = f.replicate_deletion.checked;
      body.dest_namespace = f.dest_namespace.value.trim();
      body.trigger = { type: f.trigger.value, trigger_settings: { cron: f.cron.value.trim() } };
      await api.post("/replication/policies", body);
      return body.name;
    },
    sent: (name) => {
      showMessage(`Rule ${name} created.`);
      return policyPages.refresh();
    },
  });
  newPolicy.opener.addEventListener("click", () => {
    replace(registryChoice, ...registries.map((r) => h("option", { value: String(r.id) }, `${r.name} (${r.url})`)));
  });

  // -- runs and their tasks ------------------------------------------------------------------------
  const executionList = h("div", { class: "list", id: "execution-list" });
  const taskPanel = h("div", { class: "list", id: "task-list" });
  const policyName = (id) => (policies.find((p) => p.id === id) || {}).name || `#${id}`;
  const executionPages = pagedTable({
    container: executionList,
    pageSize: PAGE_SIZE,
    label: "Run pages",
    load: (query) => api.get("/replication/executions", query),
    render: (rows) =>
      table({
        id: "executions-table",
        rows,
        empty: "No runs yet.",
        columns: [
          { title: "Run", cell: (e) => String(e.id) },
          { title: "Rule", cell: (e) => policyName(e.policy_id) },
          { title: "Status", cell: (e) => h("span", { class: "execution-status" }, e.status) },
          { title: "Trigger", cell: (e) => e.trigger },
          { title: "Started", cell: (e) => formatTime(e.start_time) },
          { title: "Artifacts", cell: (e) => `${e.succeed} of ${e.total} copied` + (e.failed ? `, ${e.failed} failed` : "") },
          {
            title: "Actions",
            cell: (e) =>
              h(
                "div",
                { class: "row-actions" },
                rowButton("Tasks", `of run ${e.id}`, () => showTasks(e), { kind: "secondary", className: "show-tasks" }),
                e.status === "InProgress"
                  ? rowButton("Stop", `run ${e.id}`, (b) =>
                      rowAction(b, { run: () => api.put(`/replication/executions/${e.id}`), message: `Run ${e.id} stopped.`, refresh: executionPages.refresh }),
                    )
                  : null,
                e.failed || e.stopped
                  ? rowButton("Retry failed", `of run ${e.id}`, (b) =>
                      rowAction(b, { run: () => api.post(`/replication/executions/${e.id}/retry`), message: `Retrying what failed in run ${e.id}.`, refresh: executionPages.refresh }),
                      { kind: "secondary", className: "retry-execution" },
                    )
                  : null,
              ),
          },
        ],
      }),
  });

  async function showTasks(execution) {
    const { data } = await api.get(`/replication/executions/${execution.id}/tasks`, { page_size: 100 });
    replace(
      taskPanel,
      h("h3", {}, `Tasks of run ${execution.id}`),
      table({
        id: "tasks-table",
        rows: data,
        empty: "This run selected nothing.",
        columns: [
          { title: "Source", cell: (t) => t.src_resource },
          { title: "Destination", cell: (t) => t.dst_resource },
          { title: "Status", cell: (t) => h("span", { class: "task-status" }, t.status) },
          { title: "Copied", cell: (t) => formatBytes(t.bytes) },
          { title: "Error", cell: (t) => t.error || "—" },
          {
            title: "Log",
            cell: (t) => h("a", { href: `${API_BASE}/replication/executions/${execution.id}/tasks/${t.id}/log`, target: "_blank", rel: "noopener", class: "task-log" }, "Log"),
          },
        ],
      }),
    );
  }

  function refreshAll() {
    return Promise.all([registryPages.refresh(), policyPages.refresh(), executionPages.refresh()]);
  }

  replace(
    container,
    h("div", { class: "page-head" }, h("h1", {}, "Replication")),
    h("section", { id: "registries", "aria-labelledby": "registries-title" },
      h("div", { class: "page-head" }, h("h2", { id: "registries-title" }, "Registries"), newRegistry.opener), newRegistry.form, registryList),
    h("section", { id: "policies", "aria-labelledby": "policies-title" },
      h("div", { class: "page-head" }, h("h2", { id: "policies-title" }, "Rules"), newPolicy.opener), newPolicy.form, policyList),
    h("section", { id: "executions", "aria-labelledby": "executions-title" },
      h("div", { class: "page-head" }, h("h2", { id: "executions-title" }, "Runs"),
        h("button", { type: "button", class: "secondary", id: "executions-refresh", onclick: () => executionPages.refresh() }, "Refresh")),
      executionList, taskPanel),
  );
  return refreshAll();
}
