// A repository: its artifacts with tags, size, push time, media type and a
// pull command; add and delete tags, delete artifacts.
import { segment } from "./api.js";
import { formatBytes, formatTime, h, replace, shortDigest } from "./dom.js";
import { mayDelete, mayTag } from "./roles.js";
import {
  confirmAction,
  copyBox,
  describe,
  field,
  formError,
  loadInto,
  loading,
  pager,
  setFormError,
  showError,
  showMessage,
  table,
  whileBusy,
} from "./widgets.js";

const PAGE_SIZE = 10;

export function pullCommand(projectName, repository, reference) {
  const separator = reference.includes(":") ? "@" : ":";
  return `docker pull ${location.host}/${projectName}/${repository}${separator}${reference}`;
}

function pullBox(command, label) {
  return copyBox(command, { label, className: "pull-command" });
}

export async function render(ctx, projectName, repository) {
  const { api, user, container, setTitle } = ctx;
  const fullName = `${projectName}/${repository}`;
  setTitle(fullName);
  const base = `/projects/${segment(projectName)}/repositories/${segment(repository)}/artifacts`;
  const state = { page: 1 };
  const list = h("div", { class: "list", id: "artifact-list", "aria-busy": "true" }, loading());
  replace(
    container,
    h(
      "nav",
      { class: "breadcrumbs", "aria-label": "Breadcrumbs" },
      h("a", { href: "#/projects" }, "Projects"),
      " › ",
      h("a", { href: `#/projects/${segment(projectName)}/repositories` }, projectName),
      " › ",
      repository,
    ),
    h("h1", {}, fullName),
    list,
  );

  let project;
  try {
    ({ data: project } = await api.get(`/projects/${segment(projectName)}`));
  } catch (error) {
    replace(list, h("p", { class: "error", role: "alert" }, describe(error)));
    list.removeAttribute("aria-busy");
    return;
  }
  const canTag = mayTag(user, project);
  const canDelete = mayDelete(user, project);

  function refresh() {
    return loadInto(list, async () => {
      const { data, total } = await api.get(base, { page: state.page, page_size: PAGE_SIZE, with_tag: "true" });
      return [
        table({
          id: "artifacts-table",
          rows: data,
          empty: "No artifacts.",
          columns: [
            {
              title: "Artifact",
              cell: (a) =>
                h(
                  "div",
                  { class: "artifact", dataset: { digest: a.digest } },
                  h("code", { class: "digest", title: a.digest }, shortDigest(a.digest)),
                  h("div", { class: "muted media-type" }, a.manifest_media_type),
                  a.media_type && a.media_type !== a.manifest_media_type ? h("div", { class: "muted media-type" }, a.media_type) : null,
                  pullBox(pullCommand(projectName, repository, a.digest), `pull command for ${shortDigest(a.digest)}`),
                ),
            },
            { title: "Tags", cell: (a) => tagCell(a) },
            { title: "Size", class: "number", cell: (a) => h("span", { title: `${a.size} bytes` }, formatBytes(a.size)) },
            { title: "Pushed", class: "time", cell: (a) => formatTime(a.push_time) },
            {
              title: "Actions",
              cell: (a) =>
                canDelete
                  ? h("button", { type: "button", class: "danger small delete-artifact", onclick: (e) => removeArtifact(e.currentTarget, a) }, "Delete", h("span", { class: "visually-hidden" }, ` artifact ${shortDigest(a.digest)}`))
                  : null,
            },
          ],
        }),
        pager({ page: state.page, pageSize: PAGE_SIZE, total: total ?? data.length, label: "Artifact pages", onChange: (n) => ((state.page = n), refresh()) }),
      ];
    });
  }

  function tagCell(artifact) {
    const tags = artifact.tags || [];
    const chips = h(
      "ul",
      { class: "tags", "aria-label": `Tags of ${shortDigest(artifact.digest)}` },
      tags.map((t) =>
        h(
          "li",
          { class: "tag", dataset: { tag: t.name } },
          h("span", { class: "tag-name", title: pullCommand(projectName, repository, t.name) }, t.name),
          canDelete
            ? h("button", { type: "button", class: "link delete-tag", "aria-label": `Delete tag ${t.name}`, onclick: (e) => removeTag(e.currentTarget, artifact, t.name) }, "×")
            : null,
        ),
      ),
    );
    if (!tags.length) {
      chips.append(h("li", { class: "muted" }, "untagged"));
    }
    if (!canTag) {
      return chips;
    }
    const error = formError();
    const form = h(
      "form",
      { class: "add-tag", hidden: true },
      field(`New tag for ${shortDigest(artifact.digest)}`, { name: "tag", required: true, maxlength: 128, autocomplete: "off", class: "tag-input", placeholder: "new tag", hideLabel: true }),
      h("button", { type: "submit", class: "small" }, "Add"),
      h("button", { type: "button", class: "secondary small", onclick: () => toggle(false) }, "Cancel"),
      error,
    );
    const open = h("button", { type: "button", class: "secondary small add-tag-open", onclick: () => toggle(true) }, "Add tag", h("span", { class: "visually-hidden" }, ` to ${shortDigest(artifact.digest)}`));
    function toggle(show) {
      form.hidden = !show;
      open.hidden = show;
      setFormError(error, null);
      if (show) {
        form.elements.tag.focus();
      } else {
        form.reset();
      }
    }
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      setFormError(error, null);
      const name = form.elements.tag.value.trim();
      const submit = form.querySelector("button[type=submit]");
      const done = await whileBusy(submit, () => api.post(`${base}/${artifact.digest}/tags`, { name }).then(() => true), (e) => setFormError(error, e));
      if (done) {
        showMessage(`Tag ${name} added.`);
        await refresh();
      }
    });
    return h("div", {}, chips, open, form);
  }

  async function removeTag(button, artifact, tag) {
    if (!(await confirmAction(`Delete tag ${tag} of ${fullName}? The artifact stays.`))) {
      return;
    }
    if (await whileBusy(button, () => api.delete(`${base}/${artifact.digest}/tags/${segment(tag)}`).then(() => true))) {
      showMessage(`Tag ${tag} deleted.`);
      await refresh();
    }
  }

  async function removeArtifact(button, artifact) {
    const tags = (artifact.tags || []).map((t) => t.name);
    const text = tags.length
      ? `Delete artifact ${shortDigest(artifact.digest)} and its tags ${tags.join(", ")}?`
      : `Delete artifact ${shortDigest(artifact.digest)}?`;
    if (!(await confirmAction(text))) {
      return;
    }
    if (await whileBusy(button, () => api.delete(`${base}/${artifact.digest}`).then(() => true))) {
      showMessage(`Artifact ${shortDigest(artifact.digest)} deleted.`);
      await refresh();
    }
  }

  try {
    await refresh();
  } catch (error) {
    showError(error);
  }
}
