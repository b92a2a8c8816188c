// A project's tag retention policy (Harbor's /retentions): its rules (each retains what it
// selects; an artifact no rule retains is deleted), its schedule, dry runs and runs, and
// each run's repositories with their logs (what was kept and what was deleted).
import { h, formatTime, replace } from "./dom.js";
import { rowAction, rowButton } from "./lists.js";
import { mayManageRetention } from "./roles.js";
import { field, formError, handleSubmit, openDialog, showError, showMessage, table } from "./widgets.js";

// how often the runs table looks again while a run is running
const RUNS_POLL_SECONDS = 2;

const TEMPLATES = [
  { value: "latestPushedK", label: "the most recently pushed # artifacts" },
  { value: "latestPulledN", label: "the most recently pulled # artifacts" },
  { value: "nDaysSinceLastPush", label: "pushed within the last # days" },
  { value: "nDaysSinceLastPull", label: "pulled within the last # days" },
  { value: "always", label: "always" },
];
const REPOSITORY_CHOICES = [
  { value: "repoMatches", label: "repositories matching" },
  { value: "repoExcludes", label: "repositories excluding" },
];
const TAG_CHOICES = [
  { value: "matches", label: "tags matching" },
  { value: "excludes", label: "tags excluding" },
];
const UNTAGGED_CHOICES = [
  { value: "true", label: "untagged artifacts too" },
  { value: "false", label: "tagged artifacts only" },
];

function describe(rule) {
  const words = (choices, value) => (choices.find((c) => c.value === value) || { label: value }).label;
  const n = rule.params ? rule.params[rule.template] : undefined;
  const what = words(TEMPLATES, rule.template).replace("#", n === undefined ? "" : String(n));
  const repository = (rule.scope_selectors.repository || [])[0] || {};
  const selectors = (rule.tag_selectors || []).map((s) =>
    s.kind === "label" ? `${s.decoration === "withLabels" ? "with labels" : "without labels"} ${s.pattern}` : `${words(TAG_CHOICES, s.decoration)} ${s.pattern}`,
  );
  const untagged = (rule.tag_selectors || []).some((s) => s.extras && JSON.parse(s.extras).untagged);
  return `retain ${what}: ${words(REPOSITORY_CHOICES, repository.decoration)} ${repository.pattern}, ${selectors.join(", ")}${untagged ? " (untagged too)" : ""}`;
}

function emptyPolicy(project) {
  return { algorithm: "or", rules: [], trigger: { kind: "Schedule", settings: { cron: "" } }, scope: { level: "project", ref: project.project_id } };
}

export async function renderRetention({ api, project, permissions, container }) {
  const manage = mayManageRetention(permissions);
  let policyId = project.metadata && project.metadata.retention_id ? Number(project.metadata.retention_id) : null;
  let policy = null;
  const rulesArea = h("div", { class: "list", id: "retention-rules" });
  const runsArea = h("div", { class: "list", id: "retention-runs" });

  async function load() {
    policy = policyId ? (await api.get(`/retentions/${policyId}`)).data : null;
    const rows = policy ? policy.rules : [];
    replace(
      rulesArea,
      h("h2", {}, "Rules"),
      table({
        id: "retention-table",
        rows,
        empty: "No retention rules: nothing is deleted.",
        columns: [
          { title: "Rule", cell: (r) => h("span", { class: "rule-text" }, describe(r)) },
          { title: "Actions", cell: (r) => (manage ? rowButton("Remove", `rule ${r.id}`, (button) => removeRule(button, r), { className: "remove-rule" }) : null) },
        ],
      }),
      policy ? h("p", { class: "facts", id: "retention-schedule" }, `Schedule: ${policy.trigger.settings.cron || "none (manual runs only)"}`) : null,
    );
    await loadRuns();
  }

  let runsTimer = 0;

  async function loadRuns() {
    if (!policyId) {
      replace(runsArea);
      return;
    }
    const { data } = await api.get(`/retentions/${policyId}/executions`, { page_size: 10 });
    clearTimeout(runsTimer);
    // a run happens after the request that started it: look again while one is running
    if ((data || []).some((e) => e.status === "Running") && runsArea.isConnected) {
      runsTimer = setTimeout(() => loadRuns().catch(showError), RUNS_POLL_SECONDS * 1000);
    }
    replace(
      runsArea,
      h("h2", {}, "Runs"),
      table({
        id: "retention-runs-table",
        rows: data || [],
        empty: "No runs yet.",
        columns: [
          { title: "Run", cell: (e) => String(e.id) },
          { title: "Status", cell: (e) => h("span", { class: "run-status" }, e.status) },
          { title: "Kind", cell: (e) => (e.dry_run ? "dry run" : "run") },
          { title: "Trigger", cell: (e) => e.trigger },
          { title: "Started", cell: (e) => formatTime(e.start_time) },
          { title: "Repositories", cell: (e) => rowButton("Details", `of run ${e.id}`, () => showRun(e), { kind: "secondary", className: "run-details" }) },
        ],
      }),
    );
  }

  async function save(rules, cron) {
    const body = { ...(policy || emptyPolicy(project)), rules };
    if (cron !== undefined) {
      body.trigger = { kind: "Schedule", settings: { cron } };
    }
    if (policyId) {
      await api.put(`/retentions/${policyId}`, body);
    } else {
      await api.post("/retentions", body);
      const { data } = await api.get(`/projects/${project.project_id}`);
      policyId = Number(data.metadata.retention_id);
    }
  }

  function removeRule(button, rule) {
    return rowAction(button, {
      question: `Remove the rule "${describe(rule)}"?`,
      confirmLabel: "Remove",
      run: () => save(policy.rules.filter((r) => r.id !== rule.id)),
      message: "Rule removed.",
      refresh: load,
    });
  }

  async function start(dryRun) {
    if (!policyId) {
      showMessage("Add a rule first.", "error");
      return;
    }
    try {
      await api.post(`/retentions/${policyId}/executions`, { dry_run: dryRun });
      showMessage(dryRun ? "Dry run started: its runs below show what it would delete." : "Retention run started: see its progress below.");
      await loadRuns();
    } catch (error) {
      showError(error);
    }
  }

  async function showRun(execution) {
    const { data } = await api.get(`/retentions/${policyId}/executions/${execution.id}/tasks`, { page_size: 100 });
    const log = h("pre", { class: "copy-wrap", id: "retention-log" });
    const content = h(
      "div",
      {},
      table({
        id: "retention-tasks",
        rows: data || [],
        empty: "No repository was selected by a rule.",
        columns: [
          { title: "Repository", cell: (t) => t.repository },
          { title: "Status", cell: (t) => t.status },
          { title: "Artifacts", cell: (t) => String(t.total) },
          { title: execution.dry_run ? "Would keep" : "Kept", cell: (t) => String(t.retained) },
          {
            title: "Log",
            cell: (t) =>
              rowButton("Log", `of ${t.repository}`, async () => {
                const reply = await api.get(`/retentions/${policyId}/executions/${execution.id}/tasks/${t.id}`);
                log.textContent = reply.text;
              }, { kind: "secondary", className: "task-log" }),
          },
        ],
      }),
      log,
    );
    await openDialog({ id: "retention-run", title: `${execution.dry_run ? "Dry run" : "Run"} ${execution.id}`, content });
  }

  const parts = [];
  if (manage) {
    const error = formError();
    error.id = "retention-add-error";
    const form = h(
      "form",
      { class: "card inline", id: "retention-add", "aria-labelledby": "retention-add-title" },
      h("h2", { id: "retention-add-title" }, "Add a rule"),
      field("For", { name: "repoDecoration", id: "retention-repo-decoration" }, REPOSITORY_CHOICES),
      field("Repositories", { name: "repoPattern", id: "retention-repo-pattern", required: true, value: "**", hint: "below the project: ** for all" }),
      field("Retain", { name: "template", id: "retention-template" }, TEMPLATES),
      field("Count or days", { name: "count", id: "retention-count", value: "10", hint: "# in the rule; none for always" }),
      field("Of", { name: "tagDecoration", id: "retention-tag-decoration" }, TAG_CHOICES),
      field("Tags", { name: "tagPattern", id: "retention-tag-pattern", required: true, value: "**", hint: "release-*, {v1,v2}, **" }),
      field("Untagged", { name: "untagged", id: "retention-untagged" }, UNTAGGED_CHOICES),
      h("div", { class: "actions" }, h("button", { type: "submit", id: "retention-add-submit" }, "Add rule")),
      error,
    );
    handleSubmit(
      form,
      error,
      async (f) => {
        const template = f.template.value;
        const rule = {
          disabled: false,
          action: "retain",
          template,
          params: template === "always" ? {} : { [template]: Number(f.count.value) },
          tag_selectors: [{ kind: "doublestar", decoration: f.tagDecoration.value, pattern: f.tagPattern.value.trim(), extras: JSON.stringify({ untagged: f.untagged.value === "true" }) }],
          scope_selectors: { repository: [{ kind: "doublestar", decoration: f.repoDecoration.value, pattern: f.repoPattern.value.trim() }] },
        };
        await save([...(policy ? policy.rules : []), rule]);
        return rule;
      },
      async () => {
        showMessage("Rule added.");
        await load();
      },
    );
    const scheduleError = formError();
    scheduleError.id = "retention-schedule-error";
    const schedule = h(
      "form",
      { class: "card inline", id: "retention-schedule-form", "aria-labelledby": "retention-schedule-title" },
      h("h2", { id: "retention-schedule-title" }, "Schedule"),
      field("Cron", { name: "cron", id: "retention-cron", value: "", hint: "6 fields, seconds first: 0 0 3 * * * is daily at 03:00 UTC; empty for none" }),
      h("div", { class: "actions" }, h("button", { type: "submit", id: "retention-schedule-submit" }, "Save schedule")),
      scheduleError,
    );
    handleSubmit(
      schedule,
      scheduleError,
      async (f) => save(policy ? policy.rules : [], f.cron.value.trim()),
      async () => {
        showMessage("Schedule saved.");
        await load();
      },
    );
    const buttons = h(
      "div",
      { class: "actions", id: "retention-actions" },
      h("button", { type: "button", class: "secondary", id: "retention-dry-run", onclick: () => start(true) }, "Dry run"),
      h("button", { type: "button", id: "retention-run-now", onclick: () => start(false) }, "Run now"),
    );
    parts.push(form, schedule, buttons);
  }
  parts.push(rulesArea, runsArea);
  replace(container, ...parts);
  return load().catch(showError);
}
