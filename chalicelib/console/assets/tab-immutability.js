// A project's tag immutability rules: list, add, enable or disable, remove. A rule
// protects the tags it selects (doublestar patterns: `*` within a segment, `**` across,
// `{a,b}` alternatives) from being moved or deleted, whoever asks.
import { h, replace } from "./dom.js";
import { pagedTable, rowAction, rowButton } from "./lists.js";
import { mayManageImmutability } from "./roles.js";
import { field, formError, handleSubmit, showError, showMessage, table } from "./widgets.js";

const PAGE_SIZE = 15;
const REPOSITORY_CHOICES = [
  { value: "repoMatches", label: "repositories matching" },
  { value: "repoExcludes", label: "repositories excluding" },
];
const TAG_CHOICES = [
  { value: "matches", label: "tags matching" },
  { value: "excludes", label: "tags excluding" },
];

function describe(rule) {
  const repository = (rule.scope_selectors.repository || [])[0] || {};
  const tag = (rule.tag_selectors || [])[0] || {};
  const words = (choices, value) => (choices.find((c) => c.value === value) || { label: value }).label;
  return `${words(REPOSITORY_CHOICES, repository.decoration)} ${repository.pattern}, ${words(TAG_CHOICES, tag.decoration)} ${tag.pattern}`;
}

export function renderImmutability({ api, project, permissions, container }) {
  const manage = mayManageImmutability(permissions);
  const base = `/projects/${project.project_id}/immutabletagrules`; // by id: a name may look like one
  const list = h("div", { class: "list", id: "immutability-list" });

  const pages = pagedTable({
    container: list,
    pageSize: PAGE_SIZE,
    label: "Rule pages",
    load: (query) => api.get(base, query),
    render: (rows) =>
      table({
        id: "immutability-table",
        rows,
        empty: "No rules: every tag may be moved and deleted.",
        columns: [
          { title: "Protects", cell: (r) => h("span", { class: "rule-text", dataset: { rule: String(r.id) } }, describe(r)) },
          { title: "State", cell: (r) => (r.disabled ? "disabled" : "enabled") },
          {
            title: "Actions",
            cell: (r) =>
              manage
                ? h(
                    "div",
                    {},
                    rowButton(r.disabled ? "Enable" : "Disable", `rule ${r.id}`, (button) => toggle(button, r), { kind: "secondary", className: "toggle-rule" }),
                    rowButton("Remove", `rule ${r.id}`, (button) => remove(button, r), { className: "remove-rule" }),
                  )
                : null,
          },
        ],
      }),
  });

  function toggle(button, rule) {
    return rowAction(button, {
      run: () => api.put(`${base}/${rule.id}`, { ...rule, disabled: !rule.disabled }),
      message: `Rule ${rule.id} ${rule.disabled ? "enabled" : "disabled"}.`,
      refresh: pages.refresh,
    });
  }

  function remove(button, rule) {
    return rowAction(button, {
      question: `Remove the rule "${describe(rule)}"? The tags it protects may then be moved and deleted.`,
      confirmLabel: "Remove",
      run: () => api.delete(`${base}/${rule.id}`),
      message: `Rule ${rule.id} removed.`,
      refresh: pages.refresh,
    });
  }

  const parts = [];
  if (manage) {
    const error = formError();
    error.id = "rule-add-error";
    const form = h(
      "form",
      { class: "card inline", id: "rule-add", "aria-labelledby": "rule-add-title" },
      h("h2", { id: "rule-add-title" }, "Add a rule"),
      field("For", { name: "repoDecoration", id: "rule-repo-decoration" }, REPOSITORY_CHOICES),
      field("Repositories", { name: "repoPattern", id: "rule-repo-pattern", required: true, value: "**", hint: "below the project: ** for all, app, team/*" }),
      field("Protect", { name: "tagDecoration", id: "rule-tag-decoration" }, TAG_CHOICES),
      field("Tags", { name: "tagPattern", id: "rule-tag-pattern", required: true, value: "**", hint: "release-*, {v1,v2}, **" }),
      h("div", { class: "actions" }, h("button", { type: "submit", id: "rule-add-submit" }, "Add rule")),
      error,
    );
    handleSubmit(
      form,
      error,
      async (f) => {
        const rule = {
          disabled: false,
          action: "immutable",
          template: "immutable_template",
          tag_selectors: [{ kind: "doublestar", decoration: f.tagDecoration.value, pattern: f.tagPattern.value.trim() }],
          scope_selectors: { repository: [{ kind: "doublestar", decoration: f.repoDecoration.value, pattern: f.repoPattern.value.trim() }] },
        };
        await api.post(base, rule);
        return rule;
      },
      async () => {
        showMessage("Rule added.");
        await pages.refresh();
      },
    );
    parts.push(form);
  }
  parts.push(list);
  replace(container, ...parts);
  return pages.refresh().catch(showError);
}
