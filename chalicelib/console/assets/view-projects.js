// Projects: the list the caller may see (search by name, paged), create, delete.
import { segment } from "./api.js";
import { formatTime, h, replace } from "./dom.js";
import { pagedTable, rowAction, rowButton, searchForm } from "./lists.js";
import { mayDeleteProject, roleLabel } from "./roles.js";
import { createForm, field, showMessage, table } from "./widgets.js";

const PAGE_SIZE = 15;

export function render(ctx) {
  const { api, user, container, setTitle } = ctx;
  setTitle("Projects");
  const list = h("div", { id: "project-list", class: "list" });

  const pages = pagedTable({
    container: list,
    pageSize: PAGE_SIZE,
    label: "Project pages",
    load: (query, search) => api.get("/projects", search ? { ...query, q: `name=~${search}` } : query),
    render: (rows, search) =>
      table({
        id: "projects-table",
        rows,
        empty: search ? `No project's name contains “${search}”.` : "No projects yet.",
        columns: [
          {
            title: "Name",
            cell: (p) => h("a", { href: `#/projects/${segment(p.name)}`, class: "project-link" }, p.name),
          },
          { title: "Access", cell: (p) => (p.metadata && p.metadata.public === "true" ? "Public" : "Private") },
          { title: "Your role", cell: (p) => h("span", { class: "role-label" }, roleLabel(user, p)) },
          { title: "Repositories", class: "number", cell: (p) => String(p.repo_count) },
          { title: "Created", cell: (p) => formatTime(p.creation_time) },
          {
            title: "Actions",
            cell: (p) => deleteSlot(p),
          },
        ],
      }),
  });

  // the button appears once the caller's permissions in that project say it may delete it
  function deleteSlot(project) {
    const slot = h("span", { class: "row-actions" });
    api
      .projectPermissions(project.project_id)
      .then((permissions) => {
        if (mayDeleteProject(permissions)) slot.append(rowButton("Delete", `project ${project.name}`, (button) => remove(button, project.name)));
      })
      .catch(() => {}); // no button: the list itself still shows
    return slot;
  }

  function remove(button, name) {
    return rowAction(button, {
      question: `Delete project ${name}? This cannot be undone.`,
      run: () => api.delete(`/projects/${segment(name)}`),
      message: `Project ${name} deleted.`,
      refresh: pages.refresh,
    });
  }

  const filter = searchForm({
    id: "project-search",
    label: "Filter by name",
    inputId: "project-filter",
    onSearch: pages.searchFor,
  });

  const create = createForm({
    name: "project",
    title: "New project",
    focus: "name",
    content: [
      field("Project name", { name: "name", id: "project-name", required: true, maxlength: 255, autocomplete: "off" }),
      field("Public (anyone may pull)", { type: "checkbox", name: "public", id: "project-public" }),
    ],
    send: async (f) => {
      const name = f.name.value.trim();
      await api.post("/projects", { project_name: name, public: f.public.checked });
      return name;
    },
    sent: (name) => {
      showMessage(`Project ${name} created.`);
      return pages.firstPage();
    },
  });

  replace(
    container,
    h("div", { class: "page-head" }, h("h1", {}, "Projects"), create.opener),
    create.form,
    filter,
    list,
  );
  return pages.refresh();
}
