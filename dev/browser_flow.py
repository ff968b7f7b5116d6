"""The first hour in a real browser: onboarding, the config flow, options, reconfigure, removal.

Part of scripts/browser_check (dev/browser_check.py), run on a Home Assistant that
`scripts/develop --onboarding` started: no user, no entry, and the flow pointed at the
simulator's VRM. Every step is found by stable names (ha-* elements, form field names, the
flow's step ids) and walked as a person would: typing into fields, pressing the dialog's
primary button whatever its label, one wrong input on each step that takes input.

A step fails on: an error dialog or alert where none is expected, a raw translation key on the
page, a form step without the description our translations give it, a step we do not know, or
a flow that ends other than planned. Each step's screenshot goes to the out directory.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from dev.browser_check import DevTools, PageScriptError, Screen

REPO: Final = Path(__file__).resolve().parents[1]
DOMAIN: Final = "victron_cerbo"
TITLE: Final = "Victron Cerbo GX"  # the integration's name in "Add integration"
TRANSLATIONS: Final = REPO / "custom_components" / DOMAIN / "translations" / "en.json"
WRONG_TOKEN: Final = "not-a-vrm-token"
OPTION_CHANGE: Final = {"low_soc": "15"}  # the one value the walk changes in the options
STEP_TIMEOUT: Final = 30.0  # seconds a page or dialog gets to appear
# A translation the frontend could not resolve shows its key instead.
RAW_KEY: Final = re.compile(r"component\.victron_cerbo\.|\[%key:|ui\.panel\.config\.")

# Helpers defined in the page once per document. Home Assistant's frontend nests shadow roots,
# so every search walks them; fields are found by their form name, buttons by element name.
HELPERS_JS: Final = r"""
window.__vc = window.__vc || (() => {
  const all = (root = document, out = []) => {
    for (const el of root.querySelectorAll("*")) {
      out.push(el);
      if (el.shadowRoot) all(el.shadowRoot, out);
    }
    return out;
  };
  const text = (el) => {
    const parts = [];
    const walk = (node) => {
      if (node.nodeType === 3) parts.push(node.textContent);
      if (node.nodeName === "STYLE" || node.nodeName === "SCRIPT") return;
      if (node.shadowRoot) walk(node.shadowRoot);
      for (const child of node.childNodes || []) walk(child);
    };
    walk(el);
    return parts.join(" ").replace(/\s+/g, " ").trim();
  };
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    if (!(r.width > 0 && r.height > 0)) return false;
    const style = getComputedStyle(el);
    return style.visibility !== "hidden" && style.display !== "none";
  };
  const tag = (el) => el.tagName.toLowerCase();
  // The flow dialog's step (form, progress, create entry, abort), if one is open.
  const flowStep = () => all().find((el) => /^step-flow-/.test(tag(el)) && visible(el)) || null;
  const openDialogs = () => all().filter((el) =>
    /^(ha-(md-|wa-)?dialog|dialog-box)$/.test(tag(el)) && (el.open || el.hasAttribute("open")));
  // Where the person is looking: the flow step, else the top dialog, else the page.
  const scope = () => flowStep() || openDialogs().pop() || document;
  const fieldHost = (name, root = scope()) => all(root.shadowRoot || root).find((el) =>
    (tag(el) === "ha-selector" || /^ha-form-/.test(tag(el)))
    && (el.name === name || (el.schema && el.schema.name === name))) || null;
  const inputOf = (host) => host && all(host.shadowRoot || host).find((el) =>
    ["INPUT", "TEXTAREA"].includes(el.tagName) && el.type !== "radio" && el.type !== "checkbox");
  const center = (el) => {
    el.scrollIntoView({ block: "center", inline: "center" });
    const r = el.getBoundingClientRect();
    return { x: r.left + r.width / 2, y: r.top + r.height / 2, w: r.width, h: r.height };
  };
  // Inside a form field (a password field's eye, say): not a button of the step.
  const inField = (el) => {
    for (let node = el; node; node = node.parentNode || node.host) {
      if (node.tagName && /^(HA-SELECTOR|HA-FORM-)/.test(node.tagName)) return true;
    }
    return false;
  };
  // Buttons a person would press, with their labels.
  const buttons = (root = scope()) => all(root.shadowRoot || root).filter((el) =>
    ["ha-button", "mwc-button", "ha-progress-button"].includes(tag(el)) && visible(el)
    && !el.disabled && !inField(el));
  const mark = (el) => { window.__vc.target = el; return el ? center(el) : null; };
  return { all, text, visible, tag, flowStep, openDialogs, scope, fieldHost, inputOf, center,
    buttons, mark, target: null };
})();
"""

# What the page shows now: the flow step and its state, errors, raw keys, dialogs.
STATE_JS: Final = r"""
(() => {
  const v = window.__vc;
  const step = v.flowStep();
  const s = step && step.step;
  const alerts = v.all().filter((el) => v.tag(el) === "ha-alert"
    && el.getAttribute("alert-type") === "error" && v.visible(el)).map((el) => v.text(el));
  const fieldErrors = v.all().filter((el) => el.tagName === "HA-FORM" && el.error
    && Object.keys(el.error).length).map((el) => JSON.stringify(el.error));
  const description = step ? v.all(step.shadowRoot || step).filter((el) =>
    v.tag(el) === "ha-markdown" && !el.closest("ha-alert")).map((el) => v.text(el))
    .filter(Boolean) : [];
  const body = v.text(document.body);
  return {
    url: location.pathname + location.search,
    kind: step ? v.tag(step).replace("step-flow-", "") : null,
    stepId: s ? s.step_id || null : null,
    flowType: s ? s.type || null : null,
    reason: s ? s.reason || null : null,
    errors: s && s.errors ? s.errors : null,
    fields: s && s.data_schema ? s.data_schema.map((f) => f.name) : [],
    required: s && s.data_schema ? s.data_schema.filter((f) => f.required).map((f) => f.name)
      : [],
    alerts,
    fieldErrors,
    description,
    dialogs: v.openDialogs().map((el) => v.tag(el) + ": " + v.text(el).slice(0, 160)),
    stepText: step ? v.text(step).slice(0, 600) : "",
    rawKeys: (body.match(/\S*(component\.victron_cerbo\.|\[%key:|ui\.panel\.config\.)\S*/g)
      || []).slice(0, 5),
    onboarding: (() => {
      const el = v.all().find((e) => /^onboarding-(?!progress|welcome-link)/.test(v.tag(e))
        && e.shadowRoot && v.visible(e));
      return el ? v.tag(el) : null;
    })(),
    onboardingText: (() => {
      const el = v.all().find((e) => e.tagName === "HA-ONBOARDING");
      return el ? v.text(el).slice(0, 300) : null;
    })(),
  };
})()
"""


class WalkError(Exception):
    """The walk could not go on: what the page showed instead of what was planned."""


@dataclass
class StepResult:
    """One screenshot and what was wrong on it."""

    name: str
    shot: Path
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Targets:
    """What the walk types: the simulator's Cerbo and VRM, and a port nobody listens on."""

    username: str
    password: str
    host: str
    port: int
    closed_port: int
    token: str


def expected_descriptions() -> dict[str, set[str]]:
    """Flow kind ("config", "options") -> step ids our translations give a description."""
    strings = json.loads(TRANSLATIONS.read_text(encoding="utf-8"))
    return {
        kind: {step for step, texts in strings[kind]["step"].items() if texts.get("description")}
        for kind in ("config", "options")
    }


def judge_step(state: dict[str, Any], *, kind: str, expect_error: bool | None) -> list[str]:
    """Problems on one flow screen; kind is "config" or "options"; None: an error may show."""
    problems = [f"raw translation key on the page: {key}" for key in state.get("rawKeys", [])]
    errors = [*state.get("alerts", []), *state.get("fieldErrors", [])]
    if state.get("kind") == "form":
        step_id = state.get("stepId")
        if step_id in expected_descriptions()[kind] and not state.get("description"):
            problems.append(f"step {step_id!r} shows no description, though it has one")
        if expect_error and not errors:
            problems.append(f"step {step_id!r}: the wrong input was accepted without an error")
        if expect_error is False and errors:
            problems.append(f"step {step_id!r}: unexpected error: {'; '.join(errors)[:300]}")
    elif errors:
        problems.append(f"error shown: {'; '.join(errors)[:300]}")
    return problems


class Walker:
    """Drives one page: find by name, type, press, wait, screenshot, judge."""

    def __init__(
        self, page: DevTools, url: str, out: Path, screen: Screen, say: Callable[[str], None]
    ) -> None:
        self.page = page
        self.url = url
        self.out = out
        self.screen = screen
        self.say = say
        self.results: list[StepResult] = []
        self._count = 0

    def count_from(self, number: int) -> None:
        """Screenshots of a later part of the walk sort after the earlier ones."""
        self._count = number

    async def js(self, expression: str) -> Any:
        return await self.page.evaluate(f"{HELPERS_JS}\n{expression}")

    async def state(self) -> dict[str, Any]:
        for _ in range(20):
            try:
                return dict(await self.js(STATE_JS))
            except PageScriptError:
                await asyncio.sleep(0.5)  # the frontend was replacing the page
        raise WalkError("the page never answered")

    async def until(
        self, check: Callable[[dict[str, Any]], bool], what: str, seconds: float = STEP_TIMEOUT
    ) -> dict[str, Any]:
        """Poll the page's state until `check` holds; then let it finish drawing."""
        deadline = time.monotonic() + seconds
        state: dict[str, Any] = {}
        while time.monotonic() < deadline:
            state = await self.state()
            if check(state):
                await asyncio.sleep(0.5)
                return await self.state()
            await asyncio.sleep(0.4)
        await self.shot(f"stuck-{re.sub(r'[^a-z0-9]+', '-', what.lower())[:40]}")
        raise WalkError(f"waited {seconds:.0f} s for {what}; the page shows {_brief(state)}")

    async def size(self, screen: Screen) -> None:
        self.screen = screen
        await self.page.call(
            "Emulation.setDeviceMetricsOverride",
            width=screen.width,
            height=screen.height,
            deviceScaleFactor=screen.scale,
            mobile=screen.mobile,
        )

    async def go(self, path: str) -> None:
        await self.page.call("Page.navigate", url=f"{self.url}{path}")
        await asyncio.sleep(1.5)

    async def shot(self, name: str) -> Path:
        self._count += 1
        path = self.out / f"flow-{self._count:02d}-{name}-{self.screen.name}.png"
        data = await self.page.call("Page.captureScreenshot", format="png")
        await asyncio.to_thread(path.write_bytes, base64.b64decode(data["data"]))
        return path

    async def record(
        self, name: str, problems: list[str], notes: list[str] | None = None
    ) -> StepResult:
        result = StepResult(name, await self.shot(name), problems, notes or [])
        self.results.append(result)
        verdict = "FAIL" if problems else "ok"
        self.say(f"{verdict:4} flow: {name} ({self.screen.name})  {result.shot.name}")
        for line in problems:
            self.say(f"       problem: {line}")
        for line in result.notes:
            self.say(f"       note: {line}")
        return result

    # --- pointing and typing ---------------------------------------------------------------

    async def click_at(self, where: dict[str, float] | None, what: str) -> None:
        """A real mouse click at the middle of the marked element."""
        if not where:
            raise WalkError(f"nothing to click: {what}")
        if where["w"] <= 0 or where["h"] <= 0:
            await self.js("window.__vc.target.click()")
            return
        await asyncio.sleep(0.2)  # scrolled into view
        where = await self.js("window.__vc.center(window.__vc.target)")
        for kind in ("mousePressed", "mouseReleased"):
            await self.page.call(
                "Input.dispatchMouseEvent",
                type=kind,
                x=where["x"],
                y=where["y"],
                button="left",
                clickCount=1,
            )

    async def click_button(self, label: str | None = None, *, scope: str = "v.scope()") -> None:
        """Press a button in the current step or dialog: by label, else the primary one."""
        pattern = json.dumps(label or "")
        where = await self.js(
            f"""(() => {{
              const v = window.__vc;
              let root = {scope};
              let buttons = v.buttons(root);
              // newer dialogs put the step's buttons in their own footer: look further out
              while (!buttons.length && root && root !== document) {{
                root = root.getRootNode().host || document;
                buttons = v.buttons(root);
              }}
              const label = {pattern};
              let el = null;
              if (label) {{
                el = buttons.find((b) => new RegExp(label, "i").test(v.text(b)));
              }} else {{
                // The primary button: not the plain/secondary looking ones, the last of them.
                const primary = buttons.filter((b) =>
                  !["plain", "outlined"].includes(b.getAttribute("appearance"))
                  && !b.hasAttribute("outlined") && b.getAttribute("variant") !== "neutral");
                el = (primary.length ? primary : buttons).pop();
              }}
              return v.mark(el || null);
            }})()"""
        )
        await self.click_at(where, f"button {label or '(primary)'}")

    async def click_text(self, tags: str, text: str, scope: str = "document") -> None:
        """Click the first visible element of these tags (regex) whose text matches."""
        where = await self.js(
            f"""(() => {{
              const v = window.__vc;
              const root = {scope};
              // the innermost match: the item itself, not the list holding it
              const found = v.all(root.shadowRoot || root).filter((e) =>
                new RegExp({json.dumps(tags)}, "i").test(v.tag(e)) && v.visible(e)
                && new RegExp({json.dumps(text)}, "i").test(v.text(e)))
                .sort((a, b) => v.text(a).length - v.text(b).length);
              return v.mark(found[0] || null);
            }})()"""
        )
        await self.click_at(where, f"{tags} {text!r}")

    async def click_labeled(self, host: str, label: str) -> None:
        """Click an icon button by its label (its tooltip), inside elements named `host`."""
        where = await self.js(
            f"""(() => {{
              const v = window.__vc;
              const el = v.all().find((e) => e.tagName === "HA-ICON-BUTTON" && v.visible(e)
                && (e.getRootNode().host || {{}}).tagName === {json.dumps(host.upper())}
                && new RegExp({json.dumps(label)}, "i").test(e.label || ""));
              return v.mark(el || null);
            }})()"""
        )
        await self.click_at(where, f"{host} button {label!r}")

    async def has_field(self, name: str) -> bool:
        return bool(await self.js(f"!!window.__vc.fieldHost({json.dumps(name)})"))

    async def fill(self, name: str, value: str) -> None:
        """Type into the form field of this name, replacing what it held."""
        found = await self.js(
            f"""(() => {{
              const v = window.__vc;
              const input = v.inputOf(v.fieldHost({json.dumps(name)}));
              if (!input) return false;
              input.scrollIntoView({{ block: "center" }});
              input.focus();
              return true;
            }})()"""
        )
        if not found:
            raise WalkError(f"no field named {name!r} on this step")
        # Ctrl+A, then type over it: as a person replaces what a field holds
        for kind in ("keyDown", "keyUp"):
            await self.page.call(
                "Input.dispatchKeyEvent",
                type=kind,
                key="a",
                code="KeyA",
                modifiers=2,
                windowsVirtualKeyCode=65,
                commands=["selectAll"] if kind == "keyDown" else [],
            )
        await self.page.call("Input.insertText", text=value)
        await asyncio.sleep(0.2)

    async def choose(self, name: str, value: str) -> None:
        """Pick a value of a list (radio) or drop-down field."""
        where = await self.js(
            f"""(() => {{
              const v = window.__vc;
              const host = v.fieldHost({json.dumps(name)});
              if (!host) return null;
              const radio = v.all(host.shadowRoot || host).find((el) =>
                /radio/.test(v.tag(el)) && el.value === {json.dumps(value)}
                || (el.tagName === "INPUT" && el.type === "radio"
                    && el.value === {json.dumps(value)}));
              return v.mark(radio || null);
            }})()"""
        )
        if where:
            await self.click_at(where, f"{name}={value}")
            await asyncio.sleep(0.3)
            chosen = await self.js(
                f"""(() => {{ const form = window.__vc.all().find((e) => e.tagName === "HA-FORM"
                  && e.data && {json.dumps(name)} in e.data);
                  return form ? form.data[{json.dumps(name)}] : null; }})()"""
            )
            for index in range(6):  # the click landed beside it: try each radio of the field
                if chosen == value:
                    return
                where = await self.js(
                    f"""(() => {{ const v = window.__vc;
                      const radios = v.all(v.fieldHost({json.dumps(name)}).shadowRoot
                        || v.fieldHost({json.dumps(name)})).filter((el) =>
                        /radio/.test(v.tag(el)) && !/group/.test(v.tag(el)) && v.visible(el));
                      return v.mark(radios[{index}] || null); }})()"""
                )
                if not where:
                    break
                await self.click_at(where, f"{name} radio {index}")
                await asyncio.sleep(0.3)
                chosen = await self.js(
                    f"""(() => {{ const form = window.__vc.all().find((e) =>
                      e.tagName === "HA-FORM" && e.data && {json.dumps(name)} in e.data);
                      return form ? form.data[{json.dumps(name)}] : null; }})()"""
                )
            if chosen != value:
                raise WalkError(f"could not choose {value!r} for {name!r} (got {chosen!r})")
            return
        # A drop-down: open it, then pick the option.
        await self.click_text(
            "^(ha-select|mwc-select|ha-picker-field)$", ".", "v.fieldHost(" + json.dumps(name) + ")"
        )
        await asyncio.sleep(0.5)
        await self.click_text("list-item|^ha-md-select-option$|^mwc-list-item$", ".")


def _brief(state: dict[str, Any]) -> str:
    keys = (
        "url",
        "kind",
        "stepId",
        "alerts",
        "dialogs",
        "onboarding",
        "stepText",
        "onboardingText",
    )
    return json.dumps({k: state.get(k) for k in keys if state.get(k)})[:600]


# --- the walk -------------------------------------------------------------------------------


async def onboarding(walker: Walker, targets: Targets) -> None:
    """Welcome, create the user, location, analytics, integrations: as a new install shows."""
    await walker.go("/")
    seen: list[str] = []
    last: tuple[str | None, str | None] = (None, None)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        state = await walker.until(
            lambda s: bool(s["onboarding"]) or not s["url"].startswith("/onboarding"),
            "an onboarding step",
            60,
        )
        step = state["onboarding"]
        if not state["url"].startswith("/onboarding") and step is None:
            break
        if (step, state["onboardingText"]) == last:
            # the same page still: give it time, then say where it is stuck
            await walker.until(_left(last), f"onboarding to leave {step}", 20)
            continue
        last = (step, state["onboardingText"])
        seen.append(step)
        problems = [f"raw translation key on the page: {k}" for k in state["rawKeys"]]
        problems += [f"error shown: {a}" for a in state["alerts"]]
        scope = f'v.all().find((e) => v.tag(e) === "{step}")'
        if step == "onboarding-create-user":
            for name, value in (
                ("name", "Dev"),
                ("username", targets.username),
                ("password", targets.password),
                ("password_confirm", targets.password),
            ):
                await walker.fill(name, value)
        await walker.record(step.removeprefix("onboarding-"), problems)
        if step == "onboarding-welcome":
            await walker.click_button("create", scope=scope)
        else:
            await walker.click_button(scope=scope)
        await asyncio.sleep(1.5)
    else:
        raise WalkError("onboarding did not finish in 180 s")
    walker.say(f"       onboarding steps: {', '.join(s.removeprefix('onboarding-') for s in seen)}")


async def add_integration(walker: Walker, targets: Targets) -> None:
    """Settings > Devices & services > Add integration > Victron Cerbo GX > every step."""
    await walker.go("/config/dashboard")
    await walker.until(lambda s: s["url"].startswith("/config"), "the settings page")
    # the navigation item links there; its element's name changes between frontends
    where = await walker.js(
        """(() => { const v = window.__vc;
          const found = v.all().filter((e) => v.visible(e) && e.tagName !== "HA-SIDEBAR"
            && /^\\/config\\/integrations/.test(e.getAttribute("href") || e.href || ""));
          return v.mark(found.pop() || null); })()"""
    )
    await walker.click_at(where, "the Devices & services item")
    await walker.until(lambda s: s["url"].startswith("/config/integrations"), "Devices & services")
    await asyncio.sleep(1)
    await walker.record("integrations", (await walker.state())["rawKeys"])
    await walker.click_text("^(ha-fab|ha-button|mwc-fab|ha-md-fab)$", "^\\s*Add integration\\s*$")
    await walker.until(
        lambda s: any("dialog" in d for d in s["dialogs"]), "the Add integration dialog"
    )
    await asyncio.sleep(1)
    await walker.js(
        """(() => { const v = window.__vc;
          // the dialog focuses its search field; else its field comes after the page's own
          let active = document.activeElement;
          while (active && active.shadowRoot && active.shadowRoot.activeElement) {
            active = active.shadowRoot.activeElement;
          }
          const input = active && active.tagName === "INPUT" ? active
            : v.all().filter((e) => e.tagName === "INPUT"
              && ["text", "search"].includes(e.type) && v.visible(e)).pop();
          if (!input) throw new Error("no search field in the Add integration dialog");
          input.focus(); return true; })()"""
    )
    await walker.page.call("Input.insertText", text="Victron")
    await asyncio.sleep(1)
    await walker.record("add-integration", [])
    await walker.click_text("^(ha-integration-list-item|ha-list-item|mwc-list-item)$", TITLE)
    await walker_flow(walker, targets, kind="config", finish="create-entry")


async def walker_flow(
    walker: Walker,
    targets: Targets,
    *,
    kind: str,
    finish: str,
    changes: dict[str, str] | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """Walk the open flow dialog to its end: each form once wrong, then right."""
    wrong_done: set[str] = set()
    for _ in range(12):
        state = await walker.until(
            lambda s: s["kind"] in {"form", "create-entry", "abort", "menu"}, "a flow step", 45
        )
        step_id = state["stepId"] or state["kind"]
        if state["kind"] != "form":
            problems = judge_step(state, kind=kind, expect_error=False)
            if state["kind"] != finish or (reason and state["reason"] != reason):
                problems.append(
                    f"the flow ended with {state['kind']} {state['reason'] or ''} "
                    f"(expected {finish} {reason or ''}): {state['stepText'][:200]}"
                )
            await walker.record(f"{kind}-{state['kind']}", problems)
            await walker.click_button()  # Finish / Close
            await asyncio.sleep(1)
            return state
        wrong = kind == "config" and step_id not in wrong_done and await has_wrong_input(walker)
        # after a wrong input its error is still shown while the right one is typed
        expect = None if step_id in wrong_done else False
        await walker.record(f"{kind}-{step_id}", judge_step(state, kind=kind, expect_error=expect))
        await fill_step(walker, targets, state, wrong=wrong, changes=changes or {})
        if wrong:
            wrong_done.add(step_id)
        before = _signature(state)
        await walker.click_button()
        state = await walker.until(_answered(before), f"an answer to step {step_id}", 45)
        if wrong:
            await walker.record(
                f"{kind}-{step_id}-wrong", judge_step(state, kind=kind, expect_error=True)
            )
    raise WalkError("the flow did not end after 12 steps")


def _left(page: tuple[str | None, str | None]) -> Callable[[dict[str, Any]], bool]:
    return lambda s: (s["onboarding"], s["onboardingText"]) != page


def _answered(sent: str) -> Callable[[dict[str, Any]], bool]:
    return lambda s: _signature(s) != sent and s["kind"] != "loading"


def _signature(state: dict[str, Any]) -> str:
    keys = ("kind", "stepId", "errors", "alerts", "fieldErrors")
    return json.dumps([state.get(key) for key in keys])


async def has_wrong_input(walker: Walker) -> bool:
    """Steps that take an address or a token get one wrong input first."""
    return await walker.has_field("host") or await walker.has_field("vrm_token")


async def fill_step(
    walker: Walker,
    targets: Targets,
    state: dict[str, Any],
    *,
    wrong: bool,
    changes: dict[str, str],
) -> None:
    """Type what this step asks for, by field name; a wrong value when asked to."""
    await walker.js(  # options in sections: open them all, as a person looking for a field
        """window.__vc.all(window.__vc.scope()).filter((e) => e.tagName === "HA-EXPANSION-PANEL")
          .forEach((e) => { e.expanded = true; }); true"""
    )
    for name, value in changes.items():
        if await walker.has_field(name):
            await walker.fill(name, value)
    if await walker.has_field("sources"):
        await walker.choose("sources", "both")
    if await walker.has_field("host"):
        await walker.fill("host", targets.host)
        if await walker.has_field("port"):
            await walker.fill("port", str(targets.closed_port if wrong else targets.port))
        elif wrong:
            await walker.fill("host", f"{targets.host}:{targets.closed_port}")
        else:
            await walker.fill("host", f"{targets.host}:{targets.port}")
        if wrong:
            return  # one wrong input at a time
    # an optional token field (reconfigure) is left empty: the entry keeps its token
    required = wrong or "vrm_token" in state.get("required", ["vrm_token"])
    if required and await walker.has_field("vrm_token"):
        await walker.fill("vrm_token", WRONG_TOKEN if wrong else targets.token)
    for name in ("site_id", "battery_instance"):
        if await walker.has_field(name):
            await walker.choose(name, ".")


async def entities_page(walker: Walker, entry_id: str) -> None:
    """The new entry's entities, as "N entities" on its row opens them."""
    await walker.go(f"/config/entities?config_entry={entry_id}")
    state = await walker.until(
        lambda s: s["url"].startswith("/config/entities"), "the entities page"
    )
    rows = await walker.js(
        """window.__vc.all().filter((e) => e.getAttribute && e.getAttribute("role") === "row"
          && window.__vc.visible(e)).length"""
    )
    problems = [f"raw translation key on the page: {k}" for k in state["rawKeys"]]
    if rows < 2:  # noqa: PLR2004 - the header row and at least one entity
        problems.append("the entities page lists no entity of the new entry")
    await walker.record("entities", problems, [f"{rows - 1} entity rows"])


async def integration_page(walker: Walker) -> dict[str, Any]:
    await walker.go(f"/config/integrations/integration/{DOMAIN}")
    state = await walker.until(
        lambda s: s["url"].startswith("/config/integrations/integration"), "the integration page"
    )
    await asyncio.sleep(1)
    return state


async def options(walker: Walker, targets: Targets) -> None:
    """Open the options, change one value, submit."""
    await integration_page(walker)
    await walker.click_labeled("ha-config-entry-row", "^(Configure|Options)$")
    await walker_flow(walker, targets, kind="options", finish="create-entry", changes=OPTION_CHANGE)


async def entry_menu(walker: Walker, item: str) -> None:
    """The entry's three-dot menu on the integration page, then one of its items."""
    await integration_page(walker)
    await walker.click_labeled("ha-config-entry-row", "^Menu$")
    await asyncio.sleep(0.8)
    await walker.click_text("^(ha-md-menu-item|ha-list-item|mwc-list-item|ha-dropdown-item)$", item)


async def reconfigure(walker: Walker, targets: Targets) -> None:
    """Change the connection: a wrong port first, then the right one; the entry keeps going."""
    await entry_menu(walker, "^\\s*Reconfigure\\s*$")
    await walker_flow(
        walker, targets, kind="config", finish="abort", reason="reconfigure_successful"
    )


async def remove(walker: Walker) -> None:
    """Delete the entry through its menu and the confirmation dialog."""
    await entry_menu(walker, "^\\s*Delete\\s*$")
    await walker.until(
        lambda s: any(re.search(r"\bDelete\b", d) for d in s["dialogs"]), "the confirmation"
    )
    await walker.record("delete-confirm", [])
    await walker.click_button("^\\s*Delete\\s*$")
    await asyncio.sleep(2)


# --- the whole walk, as scripts/browser_check runs it ----------------------------------------


async def open_page(browser: Any, session: Any, tokens: dict[str, Any] | None) -> DevTools:
    page: DevTools = await browser.page(session)
    if tokens is not None:  # signed in as the frontend stores it; onboarding signs in itself
        stored = json.dumps(json.dumps(tokens))
        await page.call(
            "Page.addScriptToEvaluateOnNewDocument",
            source=f"localStorage.setItem('hassTokens', {stored});",
        )
    return page


async def guarded(walker: Walker, name: str, step: Callable[[], Awaitable[Any]]) -> bool:
    """Run one part of the walk; a part that cannot go on fails with what the page showed."""
    try:
        await step()
    except (WalkError, PageScriptError) as err:
        await walker.record(f"{name}-stopped", [str(err)])
        return False
    return True


async def walk_setup(
    walker: Walker,
    targets: Targets,
    sign_in: Callable[[], Awaitable[None]],
    entry_id: Callable[[], Awaitable[str | None]],
    phone: Screen,
) -> bool:
    """Onboarding, Add integration, entities, options, reconfigure; key pages at phone width."""
    if not await guarded(walker, "onboarding", lambda: onboarding(walker, targets)):
        return False
    await sign_in()  # the user exists now: the check's own API calls use it
    if not await guarded(walker, "add", lambda: add_integration(walker, targets)):
        return False
    found = await entry_id()
    if found is None:
        await walker.record("add", ["the flow ended, but no victron_cerbo entry exists"])
        return False
    ok = await guarded(walker, "entities", lambda: entities_page(walker, found))
    ok = await guarded(walker, "options", lambda: options(walker, targets)) and ok
    ok = await guarded(walker, "reconfigure", lambda: reconfigure(walker, targets)) and ok
    desktop = walker.screen
    await walker.size(phone)
    ok = await guarded(walker, "entities", lambda: entities_page(walker, found)) and ok
    ok = await guarded(walker, "integration", lambda: integration_shot(walker)) and ok
    ok = await guarded(walker, "options", lambda: options(walker, targets)) and ok
    await walker.size(desktop)
    return ok


async def integration_shot(walker: Walker) -> None:
    state = await integration_page(walker)
    await walker.record("integration", judge_step(state, kind="config", expect_error=False))


async def walk_removal(walker: Walker, entry_left: Callable[[], Awaitable[str | None]]) -> bool:
    if not await guarded(walker, "delete", lambda: remove(walker)):
        return False
    for _ in range(20):
        if await entry_left() is None:
            await walker.record("deleted", [])
            return True
        await asyncio.sleep(0.5)
    await walker.record("deleted", ["the entry is still there after Delete"])
    return False
