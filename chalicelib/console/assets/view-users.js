// Users (system administrators): list, search, create, grant or revoke
// system admin, delete.
import { formatTime, h, replace } from "./dom.js";
import {
  confirmAction,
  field,
  formError,
  loadInto,
  pager,
  setFormError,
  showMessage,
  table,
  whileBusy,
} from "./widgets.js";

const PAGE_SIZE = 15;

export function render(ctx) {
  const { api, user, container, setTitle } = ctx;
  setTitle("Users");
  const state = { page: 1, search: "" };
  const list = h("div", { class: "list", id: "user-list" });

  function refresh() {
    return loadInto(list, async () => {
      const query = { page: state.page, page_size: PAGE_SIZE, q: state.search ? `username=~${state.search}` : "" };
      const { data, total } = await api.get("/users", query);
      return [
        table({
          id: "users-table",
          rows: data,
          empty: "No users found.",
          columns: [
            { title: "Username", cell: (u) => h("span", { class: "username" }, u.username) },
            { title: "Email", cell: (u) => u.email || "—" },
            { title: "Real name", cell: (u) => u.realname || "—" },
            { title: "System admin", cell: (u) => (u.sysadmin_flag ? "Yes" : "No") },
            { title: "Created", cell: (u) => formatTime(u.creation_time) },
            {
              title: "Actions",
              cell: (u) =>
                u.username === user.username
                  ? h("span", { class: "muted" }, "you")
                  : h(
                      "div",
                      { class: "row-actions" },
                      h(
                        "button",
                        { type: "button", class: "secondary small toggle-admin", onclick: (e) => setAdmin(e.currentTarget, u, !u.sysadmin_flag) },
                        u.sysadmin_flag ? "Revoke admin" : "Make admin",
                        h("span", { class: "visually-hidden" }, ` for ${u.username}`),
                      ),
                      h("button", { type: "button", class: "danger small", onclick: (e) => remove(e.currentTarget, u) }, "Delete", h("span", { class: "visually-hidden" }, ` user ${u.username}`)),
                    ),
            },
          ],
        }),
        pager({ page: state.page, pageSize: PAGE_SIZE, total: total ?? data.length, label: "User pages", onChange: (n) => ((state.page = n), refresh()) }),
      ];
    });
  }

  async function setAdmin(button, account, flag) {
    const done = await whileBusy(button, () => api.put(`/users/${account.user_id}/sysadmin`, { sysadmin_flag: flag }).then(() => true));
    if (done) {
      showMessage(flag ? `${account.username} is now a system admin.` : `${account.username} is no longer a system admin.`);
      await refresh();
    }
  }

  async function remove(button, account) {
    if (!(await confirmAction(`Delete user ${account.username} and their project memberships?`))) {
      return;
    }
    if (await whileBusy(button, () => api.delete(`/users/${account.user_id}`).then(() => true))) {
      showMessage(`User ${account.username} deleted.`);
      await refresh();
    }
  }

  // -- search ----------------------------------------------------------------------------------
  const search = h(
    "form",
    { class: "toolbar", role: "search" },
    field("Filter by username", { type: "search", name: "search", id: "user-filter" }),
    h("button", { type: "submit", class: "secondary" }, "Search"),
  );
  search.addEventListener("submit", (event) => {
    event.preventDefault();
    state.search = search.elements.search.value.trim();
    state.page = 1;
    refresh();
  });

  // -- create ----------------------------------------------------------------------------------
  const error = formError();
  error.id = "user-create-error";
  const create = h(
    "form",
    { class: "card", id: "user-create", hidden: true, "aria-labelledby": "user-create-title" },
    h("h2", { id: "user-create-title" }, "New user"),
    h(
      "div",
      { class: "fields" },
      field("Username", { name: "username", id: "user-username", required: true, maxlength: 255, autocomplete: "off" }),
      field("Email", { name: "email", id: "user-email", type: "email", maxlength: 255, autocomplete: "off" }),
      field("Real name", { name: "realname", id: "user-realname", maxlength: 255, autocomplete: "off" }),
      field("Password", { name: "password", id: "user-password", type: "password", required: true, autocomplete: "new-password" }),
    ),
    h("p", { class: "hint" }, "Passwords need 8 to 128 characters with an upper case letter, a lower case letter and a digit."),
    error,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", id: "user-create-submit" }, "Create"),
      h("button", { type: "button", class: "secondary", onclick: () => toggleCreate(false) }, "Cancel"),
    ),
  );
  const open = h("button", { type: "button", id: "user-new", onclick: () => toggleCreate(true) }, "New user");

  function toggleCreate(show) {
    create.hidden = !show;
    open.hidden = show;
    setFormError(error, null);
    if (show) {
      create.elements.username.focus();
    } else {
      create.reset();
    }
  }

  create.addEventListener("submit", async (event) => {
    event.preventDefault();
    setFormError(error, null);
    const f = create.elements;
    const body = { username: f.username.value.trim(), password: f.password.value };
    if (f.email.value.trim()) {
      body.email = f.email.value.trim();
    }
    if (f.realname.value.trim()) {
      body.realname = f.realname.value.trim();
    }
    const submit = create.querySelector("button[type=submit]");
    const done = await whileBusy(submit, () => api.post("/users", body).then(() => true), (e) => setFormError(error, e));
    if (done) {
      showMessage(`User ${body.username} created.`);
      toggleCreate(false);
      await refresh();
    }
  });

  replace(container, h("div", { class: "page-head" }, h("h1", {}, "Users"), open), create, search, list);
  return refresh();
}
