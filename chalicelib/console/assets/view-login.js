// The login form: Harbor's /c/login with the username (or e-mail) and password.
import { h, replace } from "./dom.js";
import { field, formError, setFormError, whileBusy } from "./widgets.js";

export function render({ api, container, notice, onLogin }) {
  const username = field("Username", { name: "principal", id: "login-username", autocomplete: "username", required: true });
  const password = field("Password", {
    name: "password",
    id: "login-password",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  const error = formError();
  error.id = "login-error";
  const submit = h("button", { type: "submit", id: "login-submit" }, "Log in");
  const form = h(
    "form",
    { id: "login-form", class: "card narrow", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "Log in to Berth"),
    notice ? h("p", { class: "notice", role: "status" }, notice) : null,
    username,
    password,
    error,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    setFormError(error, null);
    const principal = form.elements.principal.value.trim();
    const secret = form.elements.password.value;
    const user = await whileBusy(submit, () => api.login(principal, secret), (e) => setFormError(error, e));
    if (user) {
      onLogin(user);
    } else {
      form.elements.password.value = "";
      form.elements.password.focus();
    }
  });
  replace(container, form);
  form.elements.principal.focus();
}
