// A project's members: list, add a user with a role, change a role, remove.
import { segment } from "./api.js";
import { h, replace } from "./dom.js";
import { pagedTable, rowAction, rowButton } from "./lists.js";
import { mayManageMembers, ROLES, roleName } from "./roles.js";
import { field, formError, handleSubmit, showError, showMessage, table } from "./widgets.js";

const PAGE_SIZE = 20;
const DEFAULT_ROLE = 2; // developer

function roleOptions(selected) {
  return ROLES.map((r) => ({ value: String(r.id), label: r.name, selected: r.id === selected }));
}

export function renderMembers({ api, project, permissions, container }) {
  const manage = mayManageMembers(permissions);
  const base = `/projects/${segment(project.name)}/members`;
  const list = h("div", { class: "list", id: "member-list" });

  const pages = pagedTable({
    container: list,
    pageSize: PAGE_SIZE,
    label: "Member pages",
    load: (query) => api.get(base, query),
    render: (rows) =>
      table({
        id: "members-table",
        rows,
        empty: "No members.",
        columns: [
          { title: "Name", cell: (m) => h("span", { class: "member-name" }, m.entity_name) },
          { title: "Type", cell: (m) => (m.entity_type === "g" ? "LDAP group" : "User") },
          { title: "Role", cell: (m) => (manage ? roleSelect(m) : roleName(m.role_id) || m.role_name) },
          { title: "Actions", cell: (m) => (manage ? rowButton("Remove", m.entity_name, (button) => remove(button, m)) : null) },
        ],
      }),
  });

  function roleSelect(member) {
    const select = h(
      "select",
      { "aria-label": `Role of ${member.entity_name}`, class: "role-select", dataset: { member: member.entity_name } },
      roleOptions(member.role_id).map((o) => h("option", { value: o.value, selected: o.selected }, o.label)),
    );
    select.addEventListener("change", async () => {
      const roleId = Number(select.value);
      select.disabled = true;
      try {
        await api.put(`${base}/${member.id}`, { role_id: roleId });
        member.role_id = roleId;
        showMessage(`${member.entity_name} is now ${roleName(roleId)}.`);
      } catch (error) {
        select.value = String(member.role_id);
        showError(error);
      } finally {
        select.disabled = false;
      }
    });
    return select;
  }

  function remove(button, member) {
    return rowAction(button, {
      question: `Remove ${member.entity_name} from ${project.name}?`,
      confirmLabel: "Remove",
      run: () => api.delete(`${base}/${member.id}`),
      message: `${member.entity_name} removed from ${project.name}.`,
      refresh: pages.refresh,
    });
  }

  const parts = [];
  if (manage) {
    const error = formError();
    error.id = "member-add-error";
    const form = h(
      "form",
      { class: "card inline", id: "member-add", "aria-labelledby": "member-add-title" },
      h("h2", { id: "member-add-title" }, "Add a user"),
      field("Username", { name: "username", id: "member-username", required: true, autocomplete: "off" }),
      field("Role", { name: "role", id: "member-role" }, roleOptions(DEFAULT_ROLE)),
      h("div", { class: "actions" }, h("button", { type: "submit", id: "member-add-submit" }, "Add member")),
      error,
    );
    handleSubmit(
      form,
      error,
      async (f) => {
        const body = { role_id: Number(f.role.value), member_user: { username: f.username.value.trim() } };
        await api.post(base, body);
        return body;
      },
      async (body) => {
        showMessage(`${body.member_user.username} added to ${project.name} as ${roleName(body.role_id)}.`);
        form.reset();
        form.elements.role.value = String(DEFAULT_ROLE);
        await pages.refresh();
      },
    );
    parts.push(form);
  }
  parts.push(list);
  replace(container, ...parts);
  return pages.refresh();
}
