// A project's repositories: search, paging, delete; a name opens the repository.
import { segment } from "./api.js";
import { formatTime, h, replace } from "./dom.js";
import { pagedTable, rowAction, rowButton, searchForm } from "./lists.js";
import { mayDeleteRepositories } from "./roles.js";
import { table } from "./widgets.js";

const PAGE_SIZE = 15;

// "library/tools/app" in project "library" -> "tools/app"
export function shortName(project, fullName) {
  return fullName.startsWith(project + "/") ? fullName.slice(project.length + 1) : fullName;
}

export function repositoryHref(project, fullName) {
  return `#/projects/${segment(project)}/repositories/${shortName(project, fullName).split("/").map(segment).join("/")}`;
}

export function renderRepositories({ api, project, permissions, container }) {
  const list = h("div", { class: "list", id: "repository-list" });
  const base = `/projects/${segment(project.name)}/repositories`;

  const pages = pagedTable({
    container: list,
    pageSize: PAGE_SIZE,
    label: "Repository pages",
    load: (query, search) => api.get(base, { ...query, q: search ? `name=~${search}` : "" }),
    render: (rows, search) =>
      table({
        id: "repositories-table",
        rows,
        empty: search
          ? `No repository's name contains “${search}”.`
          : `No repositories yet. Push one: docker push ${location.host}/${project.name}/<name>:<tag>`,
        columns: [
          { title: "Name", cell: (r) => h("a", { href: repositoryHref(project.name, r.name), class: "repository-link" }, r.name) },
          { title: "Artifacts", class: "number", cell: (r) => String(r.artifact_count) },
          { title: "Updated", cell: (r) => formatTime(r.update_time) },
          {
            title: "Actions",
            cell: (r) => (mayDeleteRepositories(permissions) ? rowButton("Delete", `repository ${r.name}`, (button) => remove(button, r.name)) : null),
          },
        ],
      }),
  });

  function remove(button, fullName) {
    return rowAction(button, {
      question: `Delete repository ${fullName} with all its artifacts?`,
      run: () => api.delete(`${base}/${segment(shortName(project.name, fullName))}`),
      message: `Repository ${fullName} deleted.`,
      refresh: pages.refresh,
    });
  }

  const filter = searchForm({
    label: "Filter by name",
    inputId: "repository-filter",
    onSearch: pages.searchFor,
  });
  replace(container, filter, list);
  return pages.refresh();
}
