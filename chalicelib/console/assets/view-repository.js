// A repository: its artifacts with tags, size, push time, media type and a
// pull command; add and delete tags, put labels on and take them off, delete artifacts.
import { segment } from "./api.js";
import { formatBytes, formatTime, h, replace, shortDigest } from "./dom.js";
import { pagedTable, rowAction, rowButton } from "./lists.js";
import { mayDeleteArtifacts, mayLabelArtifacts, mayTag } from "./roles.js";
import { copyBox, errorNote, field, formError, formToggle, handleSubmit, loading, showError, showMessage, table } from "./widgets.js";

const PAGE_SIZE = 10;

export function pullCommand(projectName, repository, reference) {
  const separator = reference.includes(":") ? "@" : ":";
  return `docker pull ${location.host}/${projectName}/${repository}${separator}${reference}`;
}

function pullBox(command, label) {
  return copyBox(command, { label, className: "pull-command", wrap: true });
}

export async function render(ctx, projectName, repository) {
  const { api, container, setTitle } = ctx;
  const fullName = `${projectName}/${repository}`;
  setTitle(fullName);
  const base = `/projects/${segment(projectName)}/repositories/${segment(repository)}/artifacts`;
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
  let permissions;
  try {
    ({ data: project } = await api.get(`/projects/${segment(projectName)}`));
    permissions = await api.projectPermissions(project.project_id);
  } catch (error) {
    replace(list, errorNote(error));
    list.removeAttribute("aria-busy");
    return;
  }
  const canTag = mayTag(permissions);
  const canDelete = mayDeleteArtifacts(permissions);
  const canLabel = mayLabelArtifacts(permissions);
  // the labels that may go on this project's artifacts: the global ones and its own
  let usable = [];
  if (canLabel) {
    try {
      const [global, own] = await Promise.all([
        api.get("/labels", { scope: "g", page_size: 100 }),
        api.get("/labels", { scope: "p", project_id: project.project_id, page_size: 100 }),
      ]);
      usable = [...global.data, ...own.data];
    } catch (error) {
      showError(error);
    }
  }

  const pages = pagedTable({
    container: list,
    pageSize: PAGE_SIZE,
    label: "Artifact pages",
    load: (query) => api.get(base, { ...query, with_tag: "true", with_label: "true" }),
    render: (rows) =>
      table({
        id: "artifacts-table",
        rows,
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
          { title: "Labels", cell: (a) => labelCell(a) },
          { title: "Size", class: "number", cell: (a) => h("span", { title: `${a.size} bytes` }, formatBytes(a.size)) },
          { title: "Pushed", class: "time", cell: (a) => formatTime(a.push_time) },
          {
            title: "Actions",
            cell: (a) =>
              canDelete
                ? rowButton("Delete", `artifact ${shortDigest(a.digest)}`, (button) => removeArtifact(button, a), { className: "delete-artifact" })
                : null,
          },
        ],
      }),
  });

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
    const open = rowButton("Add tag", `to ${shortDigest(artifact.digest)}`, () => toggle(true), { kind: "secondary", className: "add-tag-open" });
    const toggle = formToggle(form, open, error, "tag");
    handleSubmit(
      form,
      error,
      async (f) => {
        const name = f.tag.value.trim();
        await api.post(`${base}/${artifact.digest}/tags`, { name });
        return name;
      },
      (name) => {
        showMessage(`Tag ${name} added.`);
        return pages.refresh();
      },
    );
    return h("div", {}, chips, open, form);
  }

  function labelCell(artifact) {
    const labels = artifact.labels || [];
    const chips = h(
      "ul",
      { class: "tags labels", "aria-label": `Labels of ${shortDigest(artifact.digest)}` },
      labels.map((l) =>
        h(
          "li",
          { class: "tag label", dataset: { label: l.name }, title: l.description || l.name },
          swatch(l.color),
          h("span", { class: "tag-name" }, l.name),
          canLabel
            ? h("button", { type: "button", class: "link remove-label", "aria-label": `Remove label ${l.name}`, onclick: (e) => removeLabel(e.currentTarget, artifact, l) }, "×")
            : null,
        ),
      ),
    );
    const on = new Set(labels.map((l) => l.id));
    const choices = usable.filter((l) => !on.has(l.id));
    if (!canLabel || !choices.length) {
      return chips;
    }
    const error = formError();
    const form = h(
      "form",
      { class: "add-label" },
      field(
        `Label for ${shortDigest(artifact.digest)}`,
        { name: "label", class: "label-select", hideLabel: true },
        [{ value: "", label: "add label…" }, ...choices.map((l) => ({ value: String(l.id), label: l.scope === "g" ? `${l.name} (global)` : l.name }))],
      ),
      h("button", { type: "submit", class: "small secondary" }, "Add"),
      error,
    );
    handleSubmit(
      form,
      error,
      async (f) => {
        const id = Number(f.label.value);
        if (!id) {
          throw new Error("Choose a label.");
        }
        await api.post(`${base}/${artifact.digest}/labels`, { id });
        return usable.find((l) => l.id === id).name;
      },
      (name) => {
        showMessage(`Label ${name} added.`);
        return pages.refresh();
      },
    );
    return h("div", {}, chips, form);
  }

  // the label's colour, set through the CSSOM (the console's CSP refuses style attributes)
  function swatch(color) {
    const dot = h("span", { class: "label-swatch" });
    if (/^#[0-9a-fA-F]{3,8}$/.test(color || "")) {
      dot.style.backgroundColor = color;
    }
    return dot;
  }

  function removeLabel(button, artifact, label) {
    return rowAction(button, {
      question: `Remove label ${label.name} from ${shortDigest(artifact.digest)}?`,
      confirmLabel: "Remove",
      run: () => api.delete(`${base}/${artifact.digest}/labels/${label.id}`),
      message: `Label ${label.name} removed.`,
      refresh: pages.refresh,
    });
  }

  function removeTag(button, artifact, tag) {
    return rowAction(button, {
      question: `Delete tag ${tag} of ${fullName}? The artifact stays.`,
      run: () => api.delete(`${base}/${artifact.digest}/tags/${segment(tag)}`),
      message: `Tag ${tag} deleted.`,
      refresh: pages.refresh,
    });
  }

  function removeArtifact(button, artifact) {
    const tags = (artifact.tags || []).map((t) => t.name);
    return rowAction(button, {
      question: tags.length
        ? `Delete artifact ${shortDigest(artifact.digest)} and its tags ${tags.join(", ")}?`
        : `Delete artifact ${shortDigest(artifact.digest)}?`,
      run: () => api.delete(`${base}/${artifact.digest}`),
      message: `Artifact ${shortDigest(artifact.digest)} deleted.`,
      refresh: pages.refresh,
    });
  }

  try {
    await pages.refresh();
  } catch (error) {
    showError(error);
  }
}
