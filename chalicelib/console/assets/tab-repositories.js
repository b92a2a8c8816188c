// A project's repositories: search, paging, delete; a name opens the repository.
import { segment } from "./api.js";
import { formatTime, h, replace } from "./dom.js";
import { mayDelete } from "./roles.js";
import { confirmAction, field, loadInto, pager, showMessage, table, whileBusy } from "./widgets.js";

const PAGE_SIZE = 15;

// "library/tools/app" in project "library" -> "tools/app"
export function shortName(project, fullName) {
  return fullName.startsWith(project + "/") ? fullName.slice(project.length + 1) : fullName;
}

export function repositoryHref(project, fullName) {
  return `#/projects/${segment(project)}/repositories/${shortName(project, fullName).split("/").map(segment).join("/")}`;
}

export function renderRepositories({ api, user, project, container }) {
  const state = { page: 1, search: "" };
  const list = h("div", { class: "list", id: "repository-list" });
  const base = `/projects/${segment(project.name)}/repositories`;

  function refresh() {
    return loadInto(list, async () => {
      const query = { page: state.page, page_size: PAGE_SIZE, q: state.search ? `name=~${state.search}` : "" };
      const { data, total } = await api.get(base, query);
      return [
        table({
          id: "repositories-table",
          rows: data,
          empty: state.search
            ? `No repository's name contains “${state.search}”.`
            : `No repositories yet. Push one: docker push ${location.host}/${project.name}/<name>:<tag>`,
          columns: [
            { title: "Name", cell: (r) => h("a", { href: repositoryHref(project.name, r.name), class: "repository-link" }, r.name) },
            { title: "Artifacts", class: "number", cell: (r) => String(r.artifact_count) },
            { title: "Updated", cell: (r) => formatTime(r.update_time) },
            {
              title: "Actions",
              cell: (r) =>
                mayDelete(user, project)
                  ? h("button", { type: "button", class: "danger small", onclick: (e) => remove(e.currentTarget, r.name) }, "Delete", h("span", { class: "visually-hidden" }, ` repository ${r.name}`))
                  : null,
            },
          ],
        }),
        pager({ page: state.page, pageSize: PAGE_SIZE, total: total ?? data.length, label: "Repository pages", onChange: (n) => ((state.page = n), refresh()) }),
      ];
    });
  }

  async function remove(button, fullName) {
    if (!(await confirmAction(`Delete repository ${fullName} with all its artifacts?`))) {
      return;
    }
    const path = `${base}/${segment(shortName(project.name, fullName))}`;
    if (await whileBusy(button, () => api.delete(path).then(() => true))) {
      showMessage(`Repository ${fullName} deleted.`);
      await refresh();
    }
  }

  const search = h(
    "form",
    { class: "toolbar", role: "search" },
    field("Filter by name", { type: "search", name: "search", id: "repository-filter" }),
    h("button", { type: "submit", class: "secondary" }, "Search"),
  );
  search.addEventListener("submit", (event) => {
    event.preventDefault();
    state.search = search.elements.search.value.trim();
    state.page = 1;
    refresh();
  });
  replace(container, search, list);
  return refresh();
}
