// The pieces every page is made of: messages, tables, paging, forms, confirmation.
import { h, replace } from "./dom.js";

// -- messages ----------------------------------------------------------------------------------
const INFO_SECONDS = 8;

function messageArea() {
  return document.getElementById("messages");
}

// An error stays until dismissed or the next page; a notice goes by itself.
export function showMessage(text, kind = "info") {
  const close = h("button", { type: "button", class: "link", "aria-label": "Dismiss message" }, "×");
  const message = h(
    "div",
    { class: `message ${kind}`, role: kind === "error" ? "alert" : null },
    h("span", { class: "message-text" }, text),
    close,
  );
  close.addEventListener("click", () => message.remove());
  messageArea().append(message);
  if (kind !== "error") {
    setTimeout(() => message.remove(), INFO_SECONDS * 1000);
  }
  return message;
}

export function showError(error) {
  if (error && error.status === 401) {
    return null; // the session ended: the login page that replaced this one says so
  }
  return showMessage(describe(error), "error");
}

export function clearMessages() {
  messageArea().replaceChildren();
}

export function describe(error) {
  if (error && error.status === 403) {
    return `Not allowed: ${error.message}`;
  }
  return error && error.message ? error.message : String(error);
}

// -- loading -----------------------------------------------------------------------------------
export function loading(text = "Loading…") {
  return h("p", { class: "loading", role: "status" }, text);
}

// An error in place of what failed to load.
export function errorNote(error) {
  return h("p", { class: "error", role: "alert" }, describe(error));
}

// the latest load of each container: an older one that answers late is dropped
const latestLoad = new WeakMap();

// Fill `container` with what `load()` renders; "Loading…" meanwhile, the error if it fails.
export async function loadInto(container, load) {
  const ticket = (latestLoad.get(container) || 0) + 1;
  latestLoad.set(container, ticket);
  container.setAttribute("aria-busy", "true");
  replace(container, loading());
  let content;
  try {
    content = await load();
  } catch (error) {
    content = errorNote(error);
  }
  if (latestLoad.get(container) === ticket) {
    replace(container, content);
    container.removeAttribute("aria-busy");
  }
}

// Run `action` with `button` disabled; errors go to `report` (default: a message).
export async function whileBusy(button, action, report = showError) {
  const buttons = button ? [button] : [];
  for (const b of buttons) {
    b.disabled = true;
    b.setAttribute("aria-busy", "true");
  }
  try {
    return await action();
  } catch (error) {
    report(error);
    return undefined;
  } finally {
    for (const b of buttons) {
      b.disabled = false;
      b.removeAttribute("aria-busy");
    }
  }
}

// -- tables ------------------------------------------------------------------------------------
// columns: [{title, cell(row) -> node or text, class?}]
export function table({ columns, rows, empty = "Nothing here yet.", caption, id }) {
  if (!rows.length) {
    return h("p", { class: "empty", id }, empty);
  }
  return h(
    "table",
    { class: "grid", id },
    caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.class }, c.title)))),
    h(
      "tbody",
      {},
      rows.map((row) => h("tr", {}, columns.map((c) => h("td", { class: c.class, "data-label": c.title }, c.cell(row))))),
    ),
  );
}

export function pager({ page, pageSize, total, onChange, label = "Pages" }) {
  const pages = Math.max(1, Math.ceil((total || 0) / pageSize));
  if (pages <= 1) {
    return total ? h("p", { class: "pager-summary" }, `${total} in total`) : null;
  }
  return h(
    "nav",
    { class: "pager", "aria-label": label },
    h("button", { type: "button", class: "secondary", disabled: page <= 1, onclick: () => onChange(page - 1) }, "‹ Previous"),
    h("span", { class: "pager-summary" }, `Page ${page} of ${pages} (${total} in total)`),
    h("button", { type: "button", class: "secondary", disabled: page >= pages, onclick: () => onChange(page + 1) }, "Next ›"),
  );
}

// -- forms -------------------------------------------------------------------------------------
let fieldCount = 0;

// A labelled input (or select, with `options`); `hideLabel` keeps the label for
// screen readers only, where the place makes the meaning plain; `hint` is a line
// under the control that screen readers read with it
export function field(label, { hideLabel = false, hint = null, ...props } = {}, options = null) {
  fieldCount += 1;
  const id = props.id || `field-${fieldCount}`;
  const hintId = hint ? `${id}-hint` : null;
  const control = options
    ? h("select", { ...props, id, "aria-describedby": hintId }, options.map((o) => h("option", { value: o.value, selected: o.selected }, o.label)))
    : h("input", { type: "text", ...props, id, "aria-describedby": hintId });
  const caption = h("label", { for: id, class: hideLabel ? "visually-hidden" : null }, label);
  const note = hint ? h("small", { class: "hint", id: hintId }, hint) : null;
  if (props.type === "checkbox") {
    return h("div", { class: "field checkbox" }, control, caption, note);
  }
  return h("div", { class: "field" }, caption, control, note);
}

export function formError() {
  return h("p", { class: "form-error", role: "alert", hidden: true });
}

export function setFormError(element, error) {
  if (error) {
    element.textContent = describe(error);
    element.hidden = false;
  } else {
    element.textContent = "";
    element.hidden = true;
  }
}

// On submit: the form's error cleared, `send(form.elements)` runs with the submit
// button busy and what it throws shows in `error`; what it answers goes to `sent`.
export function handleSubmit(form, error, send, sent) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    setFormError(error, null);
    const submit = form.querySelector("button[type=submit]");
    let answer;
    const ok = await whileBusy(
      submit,
      async () => {
        answer = await send(form.elements);
        return true;
      },
      (e) => setFormError(error, e),
    );
    if (ok) {
      await sent(answer);
    }
  });
}

// Shows `form` in place of the button `opener`, its field `focus` focused, or
// hides it again, emptied (its "reset" event fires); returns that toggle(show).
export function formToggle(form, opener, error, focus) {
  return (show) => {
    form.hidden = !show;
    opener.hidden = show;
    setFormError(error, null);
    if (show) {
      form.elements[focus].focus();
    } else {
      form.reset();
    }
  };
}

// A "New …" button (`title`) and the card form it opens in its place: `content`,
// the error, Create and Cancel. The ids follow `name`: <name>-new, <name>-create,
// <name>-create-title, -error, -submit. Submitted, `send` runs as in handleSubmit;
// once it answers the form closes and `sent(answer)` follows. Returns {opener, form}.
export function createForm({ name, title, content, focus, send, sent }) {
  const error = formError();
  error.id = `${name}-create-error`;
  const form = h(
    "form",
    { class: "card", id: `${name}-create`, hidden: true, "aria-labelledby": `${name}-create-title` },
    h("h2", { id: `${name}-create-title` }, title),
    content,
    error,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", id: `${name}-create-submit` }, "Create"),
      h("button", { type: "button", class: "secondary", onclick: () => toggle(false) }, "Cancel"),
    ),
  );
  const opener = h("button", { type: "button", id: `${name}-new`, onclick: () => toggle(true) }, title);
  const toggle = formToggle(form, opener, error, focus);
  handleSubmit(form, error, send, async (answer) => {
    toggle(false);
    await sent(answer);
  });
  return { opener, form };
}

// -- copying -----------------------------------------------------------------------------------
const COPIED_SECONDS = 3;

// A read-only text with a Copy button (pull commands, secrets). The outcome is
// told next to the button, so it shows inside a modal dialog too; without the
// clipboard API (an insecure origin) the text is selected for Ctrl+C instead.
// `wrap`: a long text (a pull command by digest) wraps over lines instead of
// scrolling out of sight in a one-line field.
export function copyBox(text, { label, id, className = "", wrap = false }) {
  const input = wrap
    ? h("textarea", {
        readonly: true,
        rows: 2,
        id,
        class: `copy-text copy-wrap mono ${className}`.trim(),
        "aria-label": label,
        spellcheck: "false",
        autocomplete: "off",
      })
    : h("input", {
        type: "text",
        readonly: true,
        value: text,
        id,
        class: `copy-text mono ${className}`.trim(),
        "aria-label": label,
        spellcheck: "false",
        autocomplete: "off",
      });
  if (wrap) input.value = text;
  input.addEventListener("focus", () => input.select());
  const status = h("span", { class: "copy-status", role: "status" });
  let timer = null;
  async function copy() {
    clearTimeout(timer);
    try {
      await navigator.clipboard.writeText(text);
      status.textContent = "Copied";
    } catch {
      input.focus();
      input.select();
      status.textContent = "Press Ctrl+C (⌘C) to copy";
    }
    timer = setTimeout(() => (status.textContent = ""), COPIED_SECONDS * 1000);
  }
  return h(
    "div",
    { class: "copy-box" },
    input,
    h("button", { type: "button", class: "secondary small copy-button", onclick: copy }, "Copy", h("span", { class: "visually-hidden" }, ` ${label}`)),
    status,
  );
}

// -- dialogs -----------------------------------------------------------------------------------
// A modal dialog around `content`, removed from the page when it closes (so
// nothing shown in it, such as a secret, stays behind); resolves then.
export function openDialog({ id, title, content, closeLabel = "Close", focus = null }) {
  const titleId = `${id}-title`;
  // no <form method="dialog">: Enter in a field must not close it by accident
  const close = h("button", { type: "button", id: `${id}-close` }, closeLabel);
  const dialog = h(
    "dialog",
    { id, class: "wide", "aria-labelledby": titleId },
    h("h2", { id: titleId }, title),
    content,
    h("div", { class: "actions" }, close),
  );
  close.addEventListener("click", () => dialog.close());
  document.body.append(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        dialog.remove();
        resolve();
      },
      { once: true },
    );
    dialog.showModal();
    (focus ? dialog.querySelector(focus) : close).focus();
  });
}

// -- confirmation ------------------------------------------------------------------------------
// Resolves to true when the person confirms; the dialog is index.html's <dialog id="confirm">.
export function confirmAction(text, actionLabel = "Delete") {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = actionLabel;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "cancel";
    dialog.showModal();
    document.getElementById("confirm-cancel").focus();
  });
}
