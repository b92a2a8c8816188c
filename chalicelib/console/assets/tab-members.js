// A project's members: list, add a user with a role, change a role, remove.
import { segment } from "./api.js";
import { h, replace } from "./dom.js";
import { mayAdminister, ROLES, roleName } from "./roles.js";
import {
  confirmAction,
  field,
  formError,
  loadInto,
  pager,
  setFormError,
  showError,
  showMessage,
  table,
  whileBusy,
} from "./widgets.js";

const PAGE_SIZE = 20;
const DEFAULT_ROLE = 2; // developer

function roleOptions(selected) {
  return ROLES.map((r) => ({ value: String(r.id), label: r.name, selected: r.id === selected }));
}

export function renderMembers({ api, user, project, container }) {
  const state = { page: 1 };
  const manage = mayAdminister(user, project);
  const base = `/projects/${segment(project.name)}/members`;
  const list = h("div", { class: "list", id: "member-list" });

  function refresh() {
    return loadInto(list, async () => {
      const { data, total } = await api.get(base, { page: state.page, page_size: PAGE_SIZE });
      return [
        table({
          id: "members-table",
          rows: data,
          empty: "No members.",
          columns: [
            { title: "Name", cell: (m) => h("span", { class: "member-name" }, m.entity_name) },
            { title: "Type", cell: (m) => (m.entity_type === "g" ? "LDAP group" : "User") },
            { title: "Role", cell: (m) => (manage ? roleSelect(m) : roleName(m.role_id) || m.role_name) },
            {
              title: "Actions",
              cell: (m) =>
                manage
                  ? h("button", { type: "button", class: "danger small", onclick: (e) => remove(e.currentTarget, m) }, "Remove", h("span", { class: "visually-hidden" }, ` ${m.entity_name}`))
                  : null,
            },
          ],
        }),
        pager({ page: state.page, pageSize: PAGE_SIZE, total: total ?? data.length, label: "Member pages", onChange: (n) => ((state.page = n), refresh()) }),
      ];
    });
  }

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

  async function remove(button, member) {
    if (!(await confirmAction(`Remove ${member.entity_name} from ${project.name}?`, "Remove"))) {
      return;
    }
    if (await whileBusy(button, () => api.delete(`${base}/${member.id}`).then(() => true))) {
      showMessage(`${member.entity_name} removed from ${project.name}.`);
      await refresh();
    }
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
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      setFormError(error, null);
      const username = form.elements.username.value.trim();
      const body = { role_id: Number(form.elements.role.value), member_user: { username } };
      const submit = form.querySelector("button[type=submit]");
      if (await whileBusy(submit, () => api.post(base, body).then(() => true), (e) => setFormError(error, e))) {
        showMessage(`${username} added to ${project.name} as ${roleName(body.role_id)}.`);
        form.reset();
        form.elements.role.value = String(DEFAULT_ROLE);
        await refresh();
      }
    });
    parts.push(form);
  }
  parts.push(list);
  replace(container, ...parts);
  return refresh();
}
