// Users (system administrators): list, search, create, grant or revoke
// system admin, delete.
import { formatTime, h, replace } from "./dom.js";
import { pagedTable, rowAction, rowButton, searchForm } from "./lists.js";
import { createForm, field, showMessage, table } from "./widgets.js";

const PAGE_SIZE = 15;

export function render(ctx) {
  const { api, user, container, setTitle } = ctx;
  setTitle("Users");
  const list = h("div", { class: "list", id: "user-list" });

  const pages = pagedTable({
    container: list,
    pageSize: PAGE_SIZE,
    label: "User pages",
    load: (query, search) => api.get("/users", { ...query, q: search ? `username=~${search}` : "" }),
    render: (rows) =>
      table({
        id: "users-table",
        rows,
        empty: "No users found.",
        columns: [
          { title: "Username", cell: (u) => h("span", { class: "username" }, u.username) },
          { title: "Email", cell: (u) => u.email || "—" },
          { title: "Real name", cell: (u) => u.realname || "—" },
          { title: "System admin", cell: (u) => (u.sysadmin_flag ? "Yes" : "No") },
          { title: "Created", cell: (u) => formatTime(u.creation_time) },
          { title: "Actions", cell: actions },
        ],
      }),
  });

  function actions(account) {
    if (account.username === user.username) {
      return h("span", { class: "muted" }, "you");
    }
    return h(
      "div",
      { class: "row-actions" },
      rowButton(account.sysadmin_flag ? "Revoke admin" : "Make admin", `for ${account.username}`, (button) => setAdmin(button, account, !account.sysadmin_flag), {
        kind: "secondary",
        className: "toggle-admin",
      }),
      rowButton("Delete", `user ${account.username}`, (button) => remove(button, account)),
    );
  }

  function setAdmin(button, account, flag) {
    return rowAction(button, {
      run: () => api.put(`/users/${account.user_id}/sysadmin`, { sysadmin_flag: flag }),
      message: flag ? `${account.username} is now a system admin.` : `${account.username} is no longer a system admin.`,
      refresh: pages.refresh,
    });
  }

  function remove(button, account) {
    return rowAction(button, {
      question: `Delete user ${account.username} and their project memberships?`,
      run: () => api.delete(`/users/${account.user_id}`),
      message: `User ${account.username} deleted.`,
      refresh: pages.refresh,
    });
  }

  const filter = searchForm({
    label: "Filter by username",
    inputId: "user-filter",
    onSearch: pages.searchFor,
  });

  const create = createForm({
    name: "user",
    title: "New user",
    focus: "username",
    content: [
      h(
        "div",
        { class: "fields" },
        field("Username", { name: "username", id: "user-username", required: true, maxlength: 255, autocomplete: "off" }),
        field("Email", { name: "email", id: "user-email", type: "email", maxlength: 255, autocomplete: "off" }),
        field("Real name", { name: "realname", id: "user-realname", maxlength: 255, autocomplete: "off" }),
        field("Password", { name: "password", id: "user-password", type: "password", required: true, autocomplete: "new-password" }),
      ),
      h("p", { class: "hint" }, "Passwords need 8 to 128 characters with an upper case letter, a lower case letter and a digit."),
    ],
    send: async (f) => {
      const body = { username: f.username.value.trim(), password: f.password.value };
      if (f.email.value.trim()) {
        body.email = f.email.value.trim();
      }
      if (f.realname.value.trim()) {
        body.realname = f.realname.value.trim();
      }
      await api.post("/users", body);
      return body.username;
    },
    sent: (username) => {
      showMessage(`User ${username} created.`);
      return pages.refresh();
    },
  });

  replace(container, h("div", { class: "page-head" }, h("h1", {}, "Users"), create.opener), create.form, filter, list);
  return pages.refresh();
}
