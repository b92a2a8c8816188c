"""The web console (/v2/ui/) in a real browser: Debian's headless Chromium driven
through chromedriver by Selenium, against the local stack.

The journey: the admin logs in, creates a project and a user, makes the user a
developer; the user pushes an image with skopeo; the admin sees the repository and
the artifact with its tag and pull command, adds a tag and deletes it, reads the
project's log, checks that a change without the CSRF token is refused, logs out,
fails to log in with a wrong password, and the developer logs in and sees no admin
pages. Then the admin cleans up through the console: artifact, repository, project.

Robot accounts: the admin creates a project robot in the console, reads its secret
from the one-time dialog and uses it outside the browser (the token service,
skopeo); refreshes the secret (the old one is refused, the new one works),
disables and enables it, and deletes it; a maintainer sees the robots without the
buttons to change them, a developer not even the tab. Configuration: the admin
changes settings in the form and the API has them; an invalid LDAP combination
shows the API's message and changes nothing; the values are restored at the end.

Missing chromium, chromedriver or selenium fail the test (scripts/install-system-deps.sh
and requirements-dev.txt provide them). On a failure the page's screenshot, its HTML and
the browser's console log are written to the test's tmp directory.
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import secrets
import shlex
import shutil
import tempfile
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import require_tool
from tests.e2e.images import build_oci_layout

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT_SECONDS = 30
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
)


def _selenium():
    try:
        from selenium import webdriver
    except ImportError:
        pytest.fail("the selenium package is required by the console test: pip install -r requirements-dev.txt",
                    pytrace=False)
    return webdriver


# --------------------------------------------------------------------------- the browser


class Browser:
    """A page of the console with the waits the journey needs; every wait is explicit."""

    def __init__(self, driver, base: str, artifacts: Path):
        from selenium.common.exceptions import ElementClickInterceptedException, StaleElementReferenceException
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver = driver
        self.base = base  # http://127.0.0.1:NNNN/v2/ui/
        self.artifacts = artifacts
        # a page re-renders its lists when answers arrive: an element found a moment ago may
        # be replaced (stale) or covered for an instant; the waits look again
        self.wait = WebDriverWait(
            driver, WAIT_SECONDS, ignored_exceptions=(StaleElementReferenceException, ElementClickInterceptedException)
        )

    # -- finding -----------------------------------------------------------------------
    def find(self, css: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def visible(self, css: str):
        """The element, once it is displayed."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec

        return self.wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)), f"{css} never showed")

    def gone(self, css: str) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec

        self.wait.until(ec.invisibility_of_element_located((By.CSS_SELECTOR, css)), f"{css} never went away")

    def text_in(self, css: str, text: str):
        """The element, once its text contains `text`."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec

        self.wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, css), text),
                        f"{css} never said {text!r}")
        return self.find(css)

    def loaded(self, css: str):
        """A list container, once it is no longer loading."""
        self.visible(css)
        self.wait.until(lambda _: self.find(css).get_attribute("aria-busy") is None, f"{css} kept loading")
        return self.find(css)

    # -- acting ------------------------------------------------------------------------
    def open(self, fragment: str = "") -> None:
        self.driver.get(self.base + fragment)

    def go(self, fragment: str) -> None:
        """Follow an in-app link (the router listens to the hash)."""
        self.driver.execute_script("location.hash = arguments[0]", fragment)

    def click(self, css: str) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec

        def clicked(_) -> bool:
            element = ec.element_to_be_clickable((By.CSS_SELECTOR, css))(self.driver)
            if not element:
                return False
            element.click()  # stale or covered: raised, ignored by the wait, tried again
            return True

        self.wait.until(clicked, f"{css} never clickable")

    def click_in_row(self, table_css: str, text: str, button_css: str) -> None:
        """Click the button of the table's row that says `text` (other tests' rows may be there)."""
        from selenium.webdriver.common.by import By

        def clicked(_) -> bool:
            for row in self.driver.find_elements(By.CSS_SELECTOR, f"{table_css} tr"):
                if text in row.text:
                    row.find_element(By.CSS_SELECTOR, button_css).click()  # stale: raised, tried again
                    return True
            return False

        self.wait.until(clicked, f"no row of {table_css} says {text!r}")

    def row_text_in(self, table_css: str, row_text: str, text: str) -> None:
        """Wait until the table's row that says `row_text` also says `text`."""
        from selenium.webdriver.common.by import By

        def says(_) -> bool:
            rows = self.driver.find_elements(By.CSS_SELECTOR, f"{table_css} tr")
            return any(row_text in row.text and text in row.text for row in rows)

        self.wait.until(says, f"the row of {table_css} saying {row_text!r} never said {text!r}")

    def fill(self, css: str, text: str) -> None:
        field = self.visible(css)
        field.clear()
        field.send_keys(text)

    def open_form(self, opener_css: str, field_css: str) -> None:
        """Click a "New …" button until its form's field shows: a click can land where the
        button was a moment before (a message at the top of the page went away and the
        page moved up), and then nothing opens (CI, the second rule of the replication test)."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec

        def opened(_) -> bool:
            if ec.visibility_of_element_located((By.CSS_SELECTOR, field_css))(self.driver):
                return True
            opener = ec.element_to_be_clickable((By.CSS_SELECTOR, opener_css))(self.driver)
            if opener:
                opener.click()  # stale or covered: raised, ignored by the wait, tried again
            return bool(ec.visibility_of_element_located((By.CSS_SELECTOR, field_css))(self.driver))

        self.wait.until(opened, f"{opener_css} never opened {field_css}")

    def choose(self, css: str, value: str) -> None:
        from selenium.webdriver.support.ui import Select

        Select(self.visible(css)).select_by_value(value)

    def choose_text(self, css: str, text: str) -> None:
        """The option whose label is `text` (a choice whose values are ids)."""
        from selenium.webdriver.support.ui import Select

        Select(self.visible(css)).select_by_visible_text(text)

    def confirm(self) -> None:
        """Answer the console's confirmation dialog with its action button."""
        self.visible("dialog#confirm[open]")
        self.click("#confirm-ok")
        self.gone("dialog#confirm[open]")

    def log_in(self, username: str, password: str) -> None:
        self.visible("#login-form")
        self.fill("#login-username", username)
        self.fill("#login-password", password)
        self.click("#login-submit")

    def fetch(self, method: str, path: str, body=None, headers=None) -> dict:
        """fetch() from the page (the session cookie goes along); status, CSRF header, body."""
        script = """
            const [method, path, body, headers, done] = arguments;
            const init = {method, headers: {"Accept": "application/json", ...headers}, credentials: "same-origin"};
            if (body !== null) { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
            fetch(path, init).then(async (r) => done({status: r.status,
                                                      csrf: r.headers.get("X-Harbor-CSRF-Token"),
                                                      body: await r.text()}))
                             .catch((e) => done({status: 0, csrf: null, body: String(e)}));
        """
        return self.driver.execute_async_script(script, method, path, body, headers or {})

    # -- evidence ----------------------------------------------------------------------
    def console_log(self) -> list[dict]:
        try:
            return self.driver.get_log("browser")
        except Exception:  # noqa: BLE001 - the log is evidence, not the test
            return []

    @contextlib.contextmanager
    def evidence_on_failure(self, name: str):
        try:
            yield
        except BaseException:
            self.artifacts.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(Exception):
                self.driver.save_screenshot(str(self.artifacts / f"{name}.png"))
                (self.artifacts / f"{name}.html").write_text(self.driver.page_source)
                (self.artifacts / f"{name}.console.json").write_text(json.dumps(self.console_log(), indent=1))
            print(f"console test evidence (screenshot, page, browser log): {self.artifacts}")
            raise


@pytest.fixture
def browser(stack, tmp_path):
    chromium = require_tool(CHROMIUM)
    chromedriver = require_tool(CHROMEDRIVER)
    webdriver = _selenium()
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="berth-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # an explicit driver and browser: Selenium Manager has nothing to find or download
    service = Service(executable_path=chromedriver, log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_script_timeout(WAIT_SECONDS)
    try:
        yield Browser(driver, f"{stack.api}/v2/ui/", tmp_path / "console-evidence")
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


# --------------------------------------------------------------------------- the journey


def api(stack, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, f"{stack.api}/v2/api/v2.0{path}", auth=stack.credentials, timeout=60, **kwargs)


def test_console_journey(stack, skopeo, browser, tmp_path):
    admin, admin_password = stack.credentials
    suffix = secrets.token_hex(4)
    project, username, password = f"console{suffix}", f"dev{suffix}", "Console-Passw0rd"
    b = browser

    with b.evidence_on_failure("journey"):
        # -- the bare path redirects; the login page comes first -------------------------
        b.driver.get(f"{stack.api}/v2/ui")
        b.visible("#login-form")
        assert b.driver.current_url.startswith(f"{stack.api}/v2/ui/")
        assert not b.find("#account").is_displayed()

        # -- the admin logs in --------------------------------------------------------------
        b.log_in(admin, admin_password)
        b.text_in("#current-user", admin)
        assert b.visible("#nav a[href='#/users']").is_displayed()  # admin-only sections shown
        b.loaded("#project-list")

        # -- create a project; the API's refusals show as messages ----------------------------
        b.click("#project-new")
        b.fill("#project-name", "Not A Valid Name")
        b.click("#project-create-submit")
        assert "project_name" in b.visible("#project-create-error").text
        b.fill("#project-name", project)
        b.click("#project-create-submit")
        b.gone("#project-create")
        b.visible(f"#projects-table a[href='#/projects/{project}']")
        b.click("#project-new")
        b.fill("#project-name", project)
        b.click("#project-create-submit")
        assert "already exists" in b.visible("#project-create-error").text
        b.click("#project-create button.secondary")  # Cancel
        # the admin's role reads the same on every project and on every page
        for name in (project, "library"):
            cell = b.find(f"#projects-table tr:has(a[href='#/projects/{name}']) .role-label")
            assert cell.text == "System admin", (name, cell.text)
        # search by name
        b.fill("#project-filter", suffix)
        b.click("#project-search button[type=submit]")
        b.loaded("#project-list")
        rows = b.find("#projects-table tbody").text
        assert project in rows and "library" not in rows

        # -- create a user on the Users page ---------------------------------------------------
        b.click("#nav a[href='#/users']")
        b.loaded("#user-list")
        b.click("#user-new")
        b.fill("#user-username", username)
        b.fill("#user-email", f"{username}@example.com")
        b.fill("#user-realname", "Dev Eloper")
        b.fill("#user-password", "short")
        b.click("#user-create-submit")
        assert "password" in b.visible("#user-create-error").text
        b.fill("#user-password", password)
        b.click("#user-create-submit")
        b.gone("#user-create")
        b.text_in("#users-table", username)
        assert f"{username}@example.com" in b.find("#users-table").text

        # -- library's owner is its first member, as in Harbor ----------------------------------
        b.go("#/projects/library")
        b.loaded("#repository-list")
        assert b.find("#view .role-label").text == "System admin"
        b.click("#tab-members")
        b.loaded("#member-list")
        assert "admin" in [e.text for e in b.driver.find_elements("css selector", "#members-table .member-name")]

        # -- make the user a developer of the project -------------------------------------------
        b.go(f"#/projects/{project}")
        b.loaded("#repository-list")
        assert b.find("#view .role-label").text == "System admin"
        b.click("#tab-members")
        b.visible("#member-add")
        b.fill("#member-username", f"nobody{suffix}")
        b.click("#member-add-submit")
        assert "not found" in b.visible("#member-add-error").text
        b.fill("#member-username", username)
        b.choose("#member-role", "2")
        b.click("#member-add-submit")
        role = b.visible(f"select.role-select[data-member='{username}']")
        assert role.get_attribute("value") == "2"
        # change the role and back: each change is one PUT, visible through the API
        b.choose(f"select.role-select[data-member='{username}']", "3")
        b.text_in("#messages", f"{username} is now Guest")
        assert api(stack, "GET", f"/projects/{project}/members").json()[-1]["role_id"] == 3
        b.choose(f"select.role-select[data-member='{username}']", "2")
        b.text_in("#messages", f"{username} is now Developer")
        members = {m["entity_name"]: m["role_id"] for m in api(stack, "GET", f"/projects/{project}/members").json()}
        assert members[username] == 2

        # -- the developer pushes an image ------------------------------------------------------
        image = build_oci_layout(tmp_path / "layout", (4096, 2048))
        skopeo.run("copy", "--dest-tls-verify=false", "--preserve-digests", "--format", "oci",
                   *skopeo.creds_args(stack, "dest", (username, password)), image.ref,
                   f"docker://{stack.host}/{project}/app:v1")
        digest = "sha256:" + hashlib.sha256(image.manifest).hexdigest()
        size = len(image.manifest) + len(image.config) + sum(layer.size for layer in image.layers)

        # -- the repository and its artifact in the console --------------------------------------
        b.click("#tab-repositories")
        b.loaded("#repository-list")
        b.click(f"#repositories-table a.repository-link[href='#/projects/{project}/repositories/app']")
        b.loaded("#artifact-list")
        row = f"#artifacts-table tr:has(.artifact[data-digest='{digest}'])"
        b.visible(f"{row} li.tag[data-tag='v1']")
        assert b.find(f"{row} code.digest").text == digest[:19]  # sha256: and 12 hex digits
        assert b.find(f"{row} code.digest").get_attribute("title") == digest
        assert "application/vnd.oci.image.manifest.v1+json" in b.find(row).text
        assert b.find(f"{row} td[data-label='Size'] span").get_attribute("title") == f"{size} bytes"
        assert b.find(f"{row} td[data-label='Size']").text.endswith("KiB")
        pull = b.find(f"{row} textarea.pull-command")
        assert pull.get_property("value") == f"docker pull {stack.host}/{project}/app@{digest}"
        # the whole command is in view: it wraps rather than scrolling sideways
        assert b.driver.execute_script("return arguments[0].scrollWidth <= arguments[0].clientWidth", pull)
        assert b.driver.execute_script("return arguments[0].scrollHeight <= arguments[0].clientHeight + 1", pull)

        # -- add a tag, then delete it ----------------------------------------------------------
        b.click(f"{row} button.add-tag-open")
        b.fill(f"{row} input.tag-input", "v2")
        b.click(f"{row} form.add-tag button[type=submit]")
        b.visible(f"{row} li.tag[data-tag='v2']")
        tags = f"/projects/{project}/repositories/app/artifacts/{digest}/tags"
        assert sorted(t["name"] for t in api(stack, "GET", tags).json()) == ["v1", "v2"]
        b.click(f"{row} li.tag[data-tag='v2'] button.delete-tag")
        b.confirm()
        b.gone(f"{row} li.tag[data-tag='v2']")
        b.visible(f"{row} li.tag[data-tag='v1']")
        assert [t["name"] for t in api(stack, "GET", tags).json()] == ["v1"]

        # -- put a label on the artifact, then take it off ----------------------------------------
        label_name = f"qa{suffix}"
        made = api(stack, "POST", "/labels", json={"name": label_name, "scope": "g", "color": "#CC0000"})
        assert made.status_code == 201, made.text
        label_id = made.headers["Location"].rsplit("/", 1)[1]
        b.go(f"#/projects/{project}")  # the repository page again, which reads the labels anew
        b.go(f"#/projects/{project}/repositories/app")
        b.loaded("#artifact-list")
        b.choose(f"{row} select.label-select", label_id)
        b.click(f"{row} form.add-label button[type=submit]")
        b.visible(f"{row} li.label[data-label='{label_name}']")
        artifact = f"/projects/{project}/repositories/app/artifacts/{digest}?with_label=true"
        assert [x["name"] for x in api(stack, "GET", artifact).json()["labels"]] == [label_name]
        b.click(f"{row} li.label[data-label='{label_name}'] button.remove-label")
        b.confirm()
        b.gone(f"{row} li.label[data-label='{label_name}']")
        assert api(stack, "GET", artifact).json()["labels"] == []

        # -- the project's log -------------------------------------------------------------------
        b.click(f"nav.breadcrumbs a[href='#/projects/{project}/repositories']")
        b.click("#tab-logs")
        log = b.loaded("#project-logs").text
        assert f"{project}/app:v1" in log and "push" in log  # the developer's push
        assert f"{project}/app:v2" in log and "delete" in log  # the tag we removed
        assert f"{project}/{username}" in log  # the membership

        # -- CSRF: a change without the token is refused, with it accepted -------------------------
        refused = b.fetch("POST", "../api/v2.0/projects", {"project_name": f"csrf{suffix}"})
        assert refused["status"] == 403, refused
        assert json.loads(refused["body"])["errors"][0]["message"] == "CSRF token invalid"
        current = b.fetch("GET", "../api/v2.0/users/current")
        assert current["status"] == 200 and current["csrf"]
        accepted = b.fetch("DELETE", f"../api/v2.0/projects/{project}/members/999999", None,
                           {"X-Harbor-CSRF-Token": current["csrf"]})
        assert accepted["status"] == 404, accepted  # past the CSRF check: the member does not exist
        assert api(stack, "HEAD", "/projects", params={"project_name": f"csrf{suffix}"}).status_code == 404

        # -- log out; a wrong password shows the error ----------------------------------------------
        b.click("#logout")
        b.visible("#login-form")
        assert not b.find("#account").is_displayed()
        assert b.fetch("GET", "../api/v2.0/users/current")["status"] == 401  # the session is over
        b.log_in(admin, admin_password + "-wrong")
        assert "invalid username or password" in b.visible("#login-error").text
        assert not b.find("#account").is_displayed()

        # -- the developer: their project and role, no admin sections -------------------------------
        b.log_in(username, password)
        b.text_in("#current-user", username)
        table = b.loaded("#project-list")
        b.text_in("#projects-table", project)
        assert "Developer" in table.text
        assert not b.find("#nav a[href='#/users']").is_displayed()
        b.go("#/users")
        b.text_in("#view", "Only system administrators")
        b.click("#logout")
        b.visible("#login-form")

        # -- the admin cleans up through the console: artifact, repository, project ------------------
        b.log_in(admin, admin_password)
        b.text_in("#current-user", admin)
        b.go(f"#/projects/{project}/repositories/app")
        b.click(f"{row} button.delete-artifact")
        b.confirm()
        b.text_in("#artifact-list", "No artifacts.")
        b.go(f"#/projects/{project}/repositories")
        b.click("#repositories-table button.danger")
        b.confirm()
        b.text_in("#repository-list", "No repositories yet")
        b.go("#/projects")
        b.fill("#project-filter", project)
        b.click("#project-search button[type=submit]")
        b.loaded("#project-list")
        b.click("#projects-table button.danger")
        b.confirm()
        b.text_in("#messages", f"Project {project} deleted.")
        assert api(stack, "HEAD", "/projects", params={"project_name": project}).status_code == 404

        # -- nothing the CSP refused, no uncaught script errors ----------------------------------------
        problems = [e["message"] for e in b.console_log()
                    if "Content Security Policy" in e["message"] or "Uncaught" in e["message"]]
        assert problems == []


# --------------------------------------------------------------------------- robot accounts


def _token(stack, project: str, credentials: tuple[str, str]) -> tuple[int, list[str]]:
    """The token service's status and the actions it grants `credentials` on <project>/x."""
    response = requests.get(f"{stack.api}/v2/service/token",
                            params={"service": "berth-registry", "scope": f"repository:{project}/x:pull,push"},
                            auth=credentials, timeout=30)
    if response.status_code != 200:
        return response.status_code, []
    payload = response.json()["token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return 200, sorted(a for entry in claims.get("access") or [] if entry["name"] == f"{project}/x"
                       for a in entry.get("actions") or [])


def _create_user(stack, project: str, username: str, password: str, role_id: int) -> int:
    created = api(stack, "POST", "/users", json={"username": username, "password": password,
                                                   "email": f"{username}@example.com", "realname": username})
    assert created.status_code == 201, created.text
    member = api(stack, "POST", f"/projects/{project}/members",
                 json={"role_id": role_id, "member_user": {"username": username}})
    assert member.status_code == 201, member.text
    return int(created.headers["Location"].rsplit("/", 1)[1])


def _read_secret_dialog(b: Browser) -> tuple[str, str, str]:
    """(name, secret, docker login line) from the one-time dialog, which is then closed."""
    b.visible("#robot-secret-dialog[open]")
    assert "will not be shown again" in b.find("#robot-secret-warning").text
    name = b.find("#robot-secret-name").get_attribute("value")
    secret = b.find("#robot-secret-value").get_attribute("value")
    login = b.find("#robot-login-command").get_attribute("value")
    b.click("#robot-secret-dialog-close")
    b.gone("#robot-secret-dialog")
    assert secret not in b.driver.page_source  # the dialog left the page, secret and all
    return name, secret, login


def _absent(b: Browser, css: str) -> bool:
    from selenium.webdriver.common.by import By

    return not any(e.is_displayed() for e in b.driver.find_elements(By.CSS_SELECTOR, css))


def test_console_robot_accounts(stack, skopeo, browser, tmp_path):
    admin, admin_password = stack.credentials
    suffix = secrets.token_hex(4)
    project = f"robots{suffix}"
    robot = f"robot${project}+ci"
    maintainer, developer = (f"maint{suffix}", "Console-Passw0rd"), (f"dev{suffix}", "Console-Passw0rd")
    b = browser
    created = api(stack, "POST", "/projects", json={"project_name": project, "metadata": {"public": "false"}})
    assert created.status_code == 201, created.text
    project_id = api(stack, "GET", f"/projects/{project}").json()["project_id"]
    user_ids = [_create_user(stack, project, *maintainer, 4), _create_user(stack, project, *developer, 2)]
    row = f"#robots-table tr:has(.robot-name[data-robot='{robot}'])"

    def listed() -> list[dict]:
        reply = api(stack, "GET", "/robots", params={"q": f"Level=project,ProjectID={project_id}"})
        assert reply.status_code == 200, reply.text
        return reply.json()

    try:
        with b.evidence_on_failure("robots"):
            # -- straight to the tab: log in first, then the page asked for ------------------
            b.open(f"#/projects/{project}/robots")
            b.log_in(admin, admin_password)
            b.text_in("#current-user", admin)
            b.text_in("#robot-list", "No robot accounts.")
            assert b.find("#tab-robots").get_attribute("aria-current") == "page"

            # -- create: the API's refusal shows in the form, then a robot with pull and push ------
            b.click("#robot-new")
            b.fill("#robot-name", "Not Valid")
            b.click("#robot-create-submit")
            assert "name must be lower case" in b.visible("#robot-create-error").text
            b.fill("#robot-name", "ci")
            b.fill("#robot-description", "made by the console test")
            b.fill("#robot-duration", "7")
            assert b.find("#robot-pull").is_selected() and not b.find("#robot-push").is_selected()
            b.click("#robot-push")
            b.click("#robot-create-submit")

            # -- the secret, once, with a docker login line a shell reads back exactly ---------------
            b.visible("#robot-secret-dialog[open]")
            b.click("#robot-secret-dialog .copy-box:has(#robot-secret-value) button.copy-button")
            status = "#robot-secret-dialog .copy-box:has(#robot-secret-value) .copy-status"
            b.wait.until(lambda _: b.find(status).text, "the copy button said nothing")
            assert b.find(status).text in ("Copied", "Press Ctrl+C (⌘C) to copy")
            name, secret, login = _read_secret_dialog(b)
            assert name == robot and len(secret) >= 16
            assert shlex.split(login) == ["docker", "login", stack.host, "-u", robot, "-p", secret]
            assert login == f"docker login {stack.host} -u '{robot}' -p '{secret}'"
            text = b.visible(row).text
            assert "pull, push" in text and "Enabled" in text and "made by the console test" in text
            [shown] = listed()
            robot_id = shown["id"]
            assert shown["duration"] == 7 and shown["description"] == "made by the console test"
            assert secret not in json.dumps(shown)

            # -- it works outside the browser: a token, and a push with skopeo ----------------------
            assert _token(stack, project, (robot, secret)) == (200, ["pull", "push"])
            image = build_oci_layout(tmp_path / "layout", (1024,))
            skopeo.run("copy", "--dest-tls-verify=false", "--format", "oci",
                       *skopeo.creds_args(stack, "dest", (robot, secret)), image.ref,
                       f"docker://{stack.host}/{project}/robot-app:1")

            # -- a new secret: shown once; the old one is refused, the new one works ---------------
            b.click(f"{row} button.robot-refresh")
            b.confirm()
            b.text_in("#robot-secret-dialog-title", f"New secret for {robot}")
            name, fresh, login = _read_secret_dialog(b)
            assert name == robot and fresh != secret
            assert shlex.split(login)[-1] == fresh
            assert _token(stack, project, (robot, secret)) == (401, [])
            assert _token(stack, project, (robot, fresh)) == (200, ["pull", "push"])

            # -- disabled it is refused; enabled it works again; PUT kept the rest ---------------------
            b.click(f"{row} button.robot-toggle")
            b.confirm()
            b.text_in("#messages", f"{robot} is disabled.")
            b.text_in(f"{row} .robot-status", "Disabled")
            assert _token(stack, project, (robot, fresh)) == (401, [])
            [shown] = listed()
            assert shown["disable"] is True and shown["duration"] == 7
            assert shown["permissions"] == [{"kind": "project", "namespace": project, "access": [
                {"resource": "repository", "action": "pull"}, {"resource": "repository", "action": "push"}]}]
            b.click(f"{row} button.robot-toggle")
            b.text_in(f"{row} .robot-status", "Enabled")
            assert _token(stack, project, (robot, fresh)) == (200, ["pull", "push"])

            # -- a maintainer sees the robots but no buttons; a developer not even the tab -------------
            b.click("#logout")
            b.log_in(*maintainer)
            b.text_in("#current-user", maintainer[0])
            b.go(f"#/projects/{project}/robots")
            b.visible(row)
            b.loaded("#robot-list")
            assert _absent(b, "#robot-new") and _absent(b, "#robot-create")
            assert _absent(b, "#robots-table button")
            b.click("#logout")
            b.log_in(*developer)
            b.text_in("#current-user", developer[0])
            b.go(f"#/projects/{project}/members")
            b.loaded("#member-list")
            assert _absent(b, "#tab-robots") and b.find("#tab-members").is_displayed()
            b.click("#logout")

            # -- the admin deletes it ------------------------------------------------------------------
            b.log_in(admin, admin_password)
            b.text_in("#current-user", admin)
            b.go(f"#/projects/{project}/robots")
            b.click(f"{row} button.robot-delete")
            b.confirm()
            b.text_in("#messages", f"{robot} deleted.")
            b.text_in("#robot-list", "No robot accounts.")
            assert api(stack, "GET", f"/robots/{robot_id}").status_code == 404
            assert _token(stack, project, (robot, fresh)) == (401, [])

            problems = [e["message"] for e in b.console_log()
                        if "Content Security Policy" in e["message"] or "Uncaught" in e["message"]]
            assert problems == []
    finally:
        for robot_left in listed():
            api(stack, "DELETE", f"/robots/{robot_left['id']}")
        api(stack, "DELETE", f"/projects/{project}/repositories/robot-app")
        api(stack, "DELETE", f"/projects/{project}")
        for user_id in user_ids:
            api(stack, "DELETE", f"/users/{user_id}")


# --------------------------------------------------------------------------- configuration


def _configuration(stack) -> dict:
    reply = api(stack, "GET", "/configurations")
    assert reply.status_code == 200, reply.text
    return {key: entry["value"] for key, entry in reply.json().items()}


def test_console_configuration(stack, browser):
    admin, admin_password = stack.credentials
    b = browser
    before = _configuration(stack)
    session_timeout = 45 if before["session_timeout"] != 45 else 50
    token_expiration = 25 if before["token_expiration"] != 25 else 20

    try:
        with b.evidence_on_failure("configuration"):
            b.open("#/configuration")
            b.log_in(admin, admin_password)
            b.text_in("#current-user", admin)
            b.loaded("#configuration")
            # the form shows what the API answers; the password is never filled in
            assert b.visible("#config-session_timeout").get_attribute("value") == str(before["session_timeout"])
            assert b.find("#config-token_expiration").get_attribute("value") == str(before["token_expiration"])
            assert b.find("#config-auth_mode").get_attribute("value") == before["auth_mode"]
            assert b.find("#config-ldap_search_password").get_attribute("value") == ""
            assert b.find("#config-ldap_search_password").get_attribute("type") == "password"
            assert b.find("#configuration-pending").text == "No unsaved changes"
            # each field is what the API's document says its setting is: bounds, choices, type
            document = api(stack, "GET", "/openapi.json").json()
            schemas = document["paths"]["/configurations"]["put"]["requestBody"]["content"]["application/json"]["schema"]["properties"]
            timeout_field = b.find("#config-session_timeout")
            assert (timeout_field.get_attribute("min"), timeout_field.get_attribute("max")) == \
                (str(schemas["session_timeout"]["minimum"]), str(schemas["session_timeout"]["maximum"]))
            scope_options = b.driver.execute_script("return [...document.querySelectorAll('#config-ldap_scope option')].map((o) => o.value)")
            assert scope_options == [str(v) for v in schemas["ldap_scope"]["enum"]]
            # every setting of the table has its field, those the console names no label for too
            for key, schema in schemas.items():
                assert b.find(f"#config-{key}").get_attribute("type") == (
                    "password" if schema.get("writeOnly") else "checkbox" if schema["type"] == "boolean"
                    else "select-one" if "enum" in schema else "number" if schema["type"] == "integer" else "text"
                ), key

            # -- change two settings and save: only those two are sent -----------------------------
            b.fill("#config-session_timeout", str(session_timeout))
            b.fill("#config-token_expiration", str(token_expiration))
            b.text_in("#configuration-pending", "2 unsaved changes")
            b.click("#configuration-save")
            b.text_in("#messages", "Configuration saved (token_expiration, session_timeout).")
            b.loaded("#configuration")
            after = _configuration(stack)
            assert after["session_timeout"] == session_timeout
            assert after["token_expiration"] == token_expiration
            assert {k: v for k, v in after.items() if k not in ("session_timeout", "token_expiration")} == \
                {k: v for k, v in before.items() if k not in ("session_timeout", "token_expiration")}
            # reloaded from the API
            assert b.visible("#config-session_timeout").get_attribute("value") == str(session_timeout)
            assert b.find("#configuration-pending").text == "No unsaved changes"
            b.click("#messages .message.info button")  # dismissed: the restore below says it again
            b.gone("#messages .message.info")

            # -- LDAP mode with a URL that is not LDAP: the API's message, nothing written ----------------
            b.choose("#config-auth_mode", "ldap_auth")
            b.fill("#config-ldap_url", "http://directory.invalid")
            b.fill("#config-ldap_search_password", "Not-Saved-1")
            b.click("#configuration-save")
            error = b.visible("#configuration-error").text
            assert "Nothing was saved" in error and "ldap_url" in error and "ldap://" in error, error
            assert b.find("#config-ldap_url").get_attribute("aria-invalid") == "true"
            assert _configuration(stack) == after
            # and with no URL at all
            b.fill("#config-ldap_url", "")
            b.click("#configuration-save")
            b.text_in("#configuration-error", "ldap_url: required")
            assert _configuration(stack) == after
            b.click("#configuration-discard")
            b.gone("#configuration-error")
            assert b.find("#config-auth_mode").get_attribute("value") == before["auth_mode"]
            assert b.find("#config-ldap_search_password").get_attribute("value") == ""

            # -- restore through the form ---------------------------------------------------------------
            b.fill("#config-session_timeout", str(before["session_timeout"]))
            b.fill("#config-token_expiration", str(before["token_expiration"]))
            b.click("#configuration-save")
            b.text_in("#messages", "Configuration saved (token_expiration, session_timeout).")
            assert _configuration(stack) == before

            problems = [e["message"] for e in b.console_log()
                        if "Content Security Policy" in e["message"] or "Uncaught" in e["message"]]
            assert problems == []
    finally:
        now = _configuration(stack)
        changed = {k: before[k] for k in ("session_timeout", "token_expiration", "auth_mode", "ldap_url")
                   if now[k] != before[k]}
        if changed:
            assert api(stack, "PUT", "/configurations", json=changed).status_code == 200


def test_console_replication(stack, browser, distribution):
    """Replication as an administrator does it in the console: add the CNCF registry and
    test its connection, add a push rule, run it, and read the run's task."""
    from chalicelib.remote.client import Credential, RegistryClient
    from tests.replication.test_remote_client import push_image

    admin, admin_password = stack.credentials
    name = f"console{secrets.token_hex(3)}"
    pushed = push_image(RegistryClient(stack.api, Credential(admin, admin_password)), f"library/{name}", "v1", b"console layer")
    b = browser
    with b.evidence_on_failure("replication"):
        b.open("#/replication")
        b.log_in(admin, admin_password)
        b.loaded("#registry-list")
        # -- a registry, checked by the server before it is stored -----------------------------
        b.open_form("#registry-new", "#registry-name")
        b.fill("#registry-name", f"cncf-{name}")
        b.choose("#registry-type", "docker-registry")
        b.fill("#registry-url", distribution.url)
        b.click("#registry-create-submit")
        b.text_in("#messages", f"Registry cncf-{name} added.")
        b.text_in("#registries-table", f"cncf-{name}")
        # its own row: the worker's stack may hold other tests' registries (a proxy cache's)
        b.click_in_row("#registries-table", f"cncf-{name}", ".test-registry")
        b.text_in("#messages", f"cncf-{name} answers and takes its credentials.")
        b.row_text_in("#registries-table", f"cncf-{name}", "healthy")
        # -- a push rule, run now ----------------------------------------------------------------
        b.loaded("#policy-list")
        b.open_form("#policy-new", "#policy-name")
        b.fill("#policy-name", f"rule-{name}")
        b.choose("#policy-direction", "push")
        # its own registry: the first one listed may be another test's (CI chose a proxy cache's)
        b.choose_text("#policy-registry", f"cncf-{name} ({distribution.url})")
        b.fill("#policy-name-filter", f"library/{name}")
        b.fill("#policy-namespace", "consolemirror")
        b.click("#policy-create-submit")
        b.text_in("#messages", f"Rule rule-{name} created.")
        b.text_in("#policies-table", f"push to cncf-{name}")
        b.click_in_row("#policies-table", f"rule-{name}", ".run-policy")
        b.text_in("#messages", f"Rule rule-{name} started.")
        for _ in range(60):  # the run is a Step Functions execution: refresh until it ended
            b.click("#executions-refresh")
            b.loaded("#execution-list")
            if "InProgress" not in b.find("#executions-table .execution-status").text:
                break
        b.text_in("#executions-table .execution-status", "Succeed")
        b.click("#executions-table .show-tasks")
        b.text_in("#tasks-table .task-status", "Succeed")
        assert f"consolemirror/{name}:v1" in b.find("#tasks-table").text
        assert RegistryClient(distribution.url).manifest_digest(f"consolemirror/{name}", "v1") == pushed.digest
        # -- an on-push rule with a label filter that deletes at the destination too ----------------
        b.open_form("#policy-new", "#policy-name")
        b.fill("#policy-name", f"labelled-{name}")
        b.choose("#policy-direction", "push")
        b.choose_text("#policy-registry", f"cncf-{name} ({distribution.url})")
        b.fill("#policy-label-filter", "prod, signed")
        b.choose("#policy-trigger", "event_based")
        b.click("#policy-deletion")
        b.click("#policy-create-submit")
        b.text_in("#messages", f"Rule labelled-{name} created.")
        b.text_in("#policies-table", "label: prod,signed")
        harbor = requests.get(f"{stack.api}/v2/api/v2.0/replication/policies", params={"name": f"labelled-{name}"},
                              auth=stack.credentials, timeout=30).json()
        assert [(p["filters"], p["replicate_deletion"]) for p in harbor] == [
            ([{"type": "label", "value": ["prod", "signed"], "decoration": "matches"}], True)]
        problems = [e["message"] for e in b.console_log()
                    if "Content Security Policy" in e["message"] or "Uncaught" in e["message"]]
        assert problems == []


def test_console_garbage_collection(stack, browser):
    """Garbage collection as an administrator does it in the console: a dry run now, its
    row in the history once its Step Functions execution ended, with a link to its log;
    a weekly schedule with untagged artifacts, then none."""
    admin, admin_password = stack.credentials
    b = browser
    try:
        with b.evidence_on_failure("gc"):
            b.open("#/gc")
            b.log_in(admin, admin_password)
            b.loaded("#gc-history")
            b.click("#gc-run-dry")
            b.choose("#gc-run-workers", "2")
            b.click("#gc-run-submit")
            b.text_in("#messages", "Garbage collection started.")
            for _ in range(60):  # a Step Functions execution: refresh until it ended
                b.click("#gc-refresh")
                b.loaded("#gc-history")
                if b.find("#gc-history-table .gc-status").text not in ("Pending", "Running"):
                    break
            b.text_in("#gc-history-table .gc-status", "Success")
            b.text_in("#gc-history-table .gc-freed", "would free")
            run_id = b.find("#gc-history-table tbody tr td").text
            assert b.find("#gc-history-table .gc-log").get_attribute("href").endswith(f"/api/v2.0/system/gc/{run_id}/log")
            ran = api(stack, "GET", f"/system/gc/{run_id}").json()
            assert json.loads(ran["job_parameters"])["dry_run"] is True and json.loads(ran["job_parameters"])["workers"] == 2
            # -- the schedule ------------------------------------------------------------------------
            b.choose("#gc-schedule-type", "Weekly")
            b.click("#gc-schedule-untagged")
            b.click("#gc-schedule-submit")
            b.text_in("#messages", "Schedule saved.")
            b.text_in("#gc-schedule-current", "Weekly (0 0 0 * * 0); next run")
            schedule = api(stack, "GET", "/system/gc/schedule").json()
            assert schedule["schedule"]["type"] == "Weekly"
            assert json.loads(schedule["job_parameters"])["delete_untagged"] is True
            b.choose("#gc-schedule-type", "Custom")
            b.fill("#gc-schedule-cron", "every day")
            b.click("#gc-schedule-submit")
            b.text_in("#gc-schedule-error", "invalid cron string")
            b.choose("#gc-schedule-type", "None")
            b.click("#gc-schedule-submit")
            b.text_in("#gc-schedule-current", "No schedule")
            problems = [e["message"] for e in b.console_log()
                        if "Content Security Policy" in e["message"] or "Uncaught" in e["message"]]
            assert problems == []
    finally:
        api(stack, "PUT", "/system/gc/schedule", json={"schedule": {"type": "None"}})
