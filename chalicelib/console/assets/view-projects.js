// Projects: the list the caller may see (search by name, paged), create, delete.
import { segment } from "./api.js";
import { formatTime, h, replace } from "./dom.js";
import { mayAdminister, roleName } from "./roles.js";
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
  setTitle("Projects");
  const state = { page: 1, search: "" };
  const list = h("div", { id: "project-list", class: "list" });

  async function refresh() {
    await loadInto(list, async () => {
      const query = { page: state.page, page_size: PAGE_SIZE };
      if (state.search) {
        query.q = `name=~${state.search}`;
      }
      const { data, total } = await api.get("/projects", query);
      return [
        table({
          id: "projects-table",
          rows: data,
          empty: state.search ? `No project's name contains “${state.search}”.` : "No projects yet.",
          columns: [
            {
              title: "Name",
              cell: (p) => h("a", { href: `#/projects/${segment(p.name)}`, class: "project-link" }, p.name),
            },
            { title: "Access", cell: (p) => (p.metadata && p.metadata.public === "true" ? "Public" : "Private") },
            { title: "Your role", cell: (p) => roleName(p.current_user_role_id) || (user.sysadmin ? "System admin" : "—") },
            { title: "Repositories", class: "number", cell: (p) => String(p.repo_count) },
            { title: "Created", cell: (p) => formatTime(p.creation_time) },
            {
              title: "Actions",
              cell: (p) =>
                mayAdminister(user, p)
                  ? h("button", { type: "button", class: "danger small", onclick: (e) => remove(e.currentTarget, p.name) }, "Delete", h("span", { class: "visually-hidden" }, ` project ${p.name}`))
                  : null,
            },
          ],
        }),
        pager({ page: state.page, pageSize: PAGE_SIZE, total: total ?? data.length, label: "Project pages", onChange: (n) => ((state.page = n), refresh()) }),
      ];
    });
  }

  async function remove(button, name) {
    if (!(await confirmAction(`Delete project ${name}? This cannot be undone.`))) {
      return;
    }
    const done = await whileBusy(button, () => api.delete(`/projects/${segment(name)}`).then(() => true));
    if (done) {
      showMessage(`Project ${name} deleted.`);
      await refresh();
    }
  }

  // -- search ----------------------------------------------------------------------------------
  const search = h(
    "form",
    { class: "toolbar", role: "search", id: "project-search" },
    field("Filter by name", { type: "search", name: "search", id: "project-filter" }),
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
  error.id = "project-create-error";
  const create = h(
    "form",
    { class: "card", id: "project-create", hidden: true, "aria-labelledby": "project-create-title" },
    h("h2", { id: "project-create-title" }, "New project"),
    field("Project name", { name: "name", id: "project-name", required: true, maxlength: 255, autocomplete: "off" }),
    field("Public (anyone may pull)", { type: "checkbox", name: "public", id: "project-public" }),
    error,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", id: "project-create-submit" }, "Create"),
      h("button", { type: "button", class: "secondary", onclick: () => toggleCreate(false) }, "Cancel"),
    ),
  );
  const open = h("button", { type: "button", id: "project-new", onclick: () => toggleCreate(true) }, "New project");

  function toggleCreate(show) {
    create.hidden = !show;
    open.hidden = show;
    setFormError(error, null);
    if (show) {
      create.elements.name.focus();
    } else {
      create.reset();
    }
  }

  create.addEventListener("submit", async (event) => {
    event.preventDefault();
    setFormError(error, null);
    const name = create.elements.name.value.trim();
    const body = { project_name: name, public: create.elements.public.checked };
    const submit = create.querySelector("button[type=submit]");
    const done = await whileBusy(submit, () => api.post("/projects", body).then(() => true), (e) => setFormError(error, e));
    if (done) {
      showMessage(`Project ${name} created.`);
      toggleCreate(false);
      state.page = 1;
      await refresh();
    }
  });

  replace(
    container,
    h("div", { class: "page-head" }, h("h1", {}, "Projects"), open),
    create,
    search,
    list,
  );
  return refresh();
}
