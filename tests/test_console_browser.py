"""Issue 18's acceptance in a real browser (Debian's chromium, headless, through Selenium and
the system chromedriver; nothing is downloaded): each user's main path end to end against the
two real nodes of ``tests/console_support.py``, and the refusals.

One browser session serves the whole module (cookies are cleared between people). Set
``FEDCREDIT_CONSOLE_SCREENSHOTS=docs/console`` to (re)write the README's screenshots.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from experiments.support.console import MODEL, PASSWORD, World, build_world
from models.audit import events as ev

CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and DRIVER.exists()),
        reason="Debian's chromium and chromium-driver are not installed (make installs them)",
    ),
]  # slow: one real training job with MLflow (~50 s) and a browser (~60 s); `make test-all`
INJECTION = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned=2"><b>粗体</b>'


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = build_world(tmp_path_factory.mktemp("console"))
    yield w
    w.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager download
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--ignore-certificate-errors", "--window-size=1280,1000",
                "--lang=zh-CN"):  # fmt: skip
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def shot(browser: Any, name: str) -> None:
    target = os.environ.get("FEDCREDIT_CONSOLE_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(Path(target) / f"{name}.png"))


def click(browser: Any, by: str, value: str) -> None:
    """Click an element that loads a new page, and wait until the old page is gone."""
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    element = browser.find_element(by, value)
    element.click()
    WebDriverWait(browser, 30).until(ec.staleness_of(element))


def sign_in(browser: Any, base: str, username: str, password: str = PASSWORD) -> None:
    from selenium.webdriver.common.by import By

    browser.delete_all_cookies()
    browser.get(base + "/login")
    browser.find_element(By.ID, "username").send_keys(username)
    browser.find_element(By.ID, "password").send_keys(password)
    click(browser, By.ID, "login")


def text(browser: Any, element_id: str) -> str:
    from selenium.webdriver.common.by import By

    return str(browser.find_element(By.ID, element_id).text)


def cookie_client(browser: Any, base: str) -> httpx.Client:
    """An HTTP client holding the browser's session (downloads, and forged requests)."""
    client = httpx.Client(base_url=base, verify=False, timeout=30.0)
    for c in browser.get_cookies():
        client.cookies.set(c["name"], c["value"])
    return client


def wait_for(browser: Any, element_id: str, timeout: float = 30.0) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout).until(
        ec.presence_of_element_located((By.ID, element_id))
    )


# -- main paths, in the order of the story -----------------------------------------------------
def test_company_sees_its_records_grants_consent_and_objects(world: World, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    base, code = world.platform_console.url, world.usccs[0]
    sign_in(browser, base, code)
    assert browser.current_url.endswith("/company")
    assert "市场监督管理局" in text(browser, "cat-registration")  # record source
    judicial = text(browser, "cat-judicial")
    assert "2024-02-01" in judicial and "2023-05-10" in judicial
    assert "410101199001011234" not in browser.page_source  # personal fields never shown
    shot(browser, "company_records")
    # consent to bank-a
    browser.get(base + "/company/consents")
    Select(browser.find_element(By.ID, "grant-bank")).select_by_value("bank-a")
    click(browser, By.ID, "grant")
    assert text(browser, "consent-done")
    assert "bank-a" in text(browser, "consents")
    shot(browser, "company_consents")
    (grant,) = world.consent.list(code)
    logged = [e for e in world.platform_audit.entries() if e.event == ev.CONSENT_GRANTED][-1]
    assert (
        logged.actor.party == f"company/{code}" and logged.details["consent_id"] == grant.consent_id
    )
    # an objection against the older judgment, with script in its text, excluded from scoring
    browser.get(base + "/company")
    row = next(r for r in browser.find_elements(By.CSS_SELECTOR, "#cat-judicial tr.record")
               if "2023-05-10" in r.text)  # fmt: skip
    link = row.find_element(By.CLASS_NAME, "object-link")
    link.click()
    WebDriverWait(browser, 30).until(ec.staleness_of(link))
    browser.find_element(By.ID, "reason").send_keys("该判决已撤销。" + INJECTION)
    browser.find_element(By.ID, "exclude").click()  # a checkbox: no new page
    click(browser, By.ID, "submit-objection")
    assert text(browser, "state") == "已提交"
    reason = browser.find_element(By.ID, "reason-text")
    assert INJECTION in reason.text  # shown as text ...
    assert reason.find_elements(By.TAG_NAME, "b") == []  # ... not as markup
    assert reason.find_elements(By.TAG_NAME, "img") == []
    assert browser.execute_script("return window.__pwned === undefined")
    assert text(browser, "excluded")
    shot(browser, "company_objection")
    browser.get(base + "/company")
    assert text(browser, "cat-judicial").count("异议中") == 1
    world.extra["objection_url"] = browser.current_url


def test_operator_works_the_queue_and_the_company_sees_each_step(
    world: World, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    base, code = world.platform_console.url, world.usccs[0]
    sign_in(browser, base, "operator")
    assert browser.current_url.endswith("/operator/objections")
    shot(browser, "operator_queue")
    click(browser, By.CSS_SELECTOR, "#queue a")
    assert INJECTION in text(browser, "reason-text")
    assert browser.execute_script("return window.__pwned === undefined")
    click(browser, By.ID, "review")
    assert text(browser, "state") == "审核中"
    browser.find_element(By.ID, "note").send_keys("已核实法院更正文书")
    shot(browser, "operator_objection")
    click(browser, By.ID, "correct")
    assert text(browser, "state") == "已更正"
    objection_id = browser.current_url.rstrip("/").rsplit("/", 1)[-1]
    browser.get(base + "/operator/verify")
    assert text(browser, "verify-result").startswith("校验通过")
    browser.get(base + "/operator")
    assert "sme" in text(browser, "served") and "judgments" in text(browser, "catalogue")
    # the company sees every step, with the operator's note
    sign_in(browser, base, code)
    browser.get(f"{base}/company/objections/{objection_id}")
    steps = text(browser, "steps")
    assert "已核实法院更正文书" in steps and "platform/operator" in steps
    assert text(browser, "state") == "已更正"
    # and the platform's audit log has each step with the person as the actor
    steps_logged = [(e.actor.party, e.details.get("action"))
                    for e in world.platform_audit.entries()
                    if e.event.startswith("objection_")]  # fmt: skip
    assert steps_logged == [
        (f"company/{code}", None), (f"company/{code}", "exclude_from_scoring"),
        ("platform/operator", "review"), ("platform/operator", "correct"),
    ]  # fmt: skip
    store = world.platform_app_ctx.services["platform"].objections
    assert len(store.excluded_records(code)) == 1


def test_head_of_risk_promotes_the_version_as_a_signed_in_approver(
    world: World, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    base = world.bank_console.url
    sign_in(browser, base, "head-of-risk")
    assert browser.current_url.endswith("/risk/registry")
    assert "valid_auc" in text(browser, "registry") or "auc" in text(browser, "registry")
    plots = browser.find_elements(By.CSS_SELECTOR, "img.plot")
    assert plots and all(
        browser.execute_script("return arguments[0].naturalWidth", p) > 0 for p in plots
    )
    click(browser, By.ID, f"promote-{MODEL}-1")
    assert MODEL in text(browser, "promoted")
    shot(browser, "risk_registry")
    bank_log = world.bank_app_ctx.audit
    promoted = [e for e in bank_log.entries() if e.event == ev.MODEL_PROMOTED][-1]
    assert promoted.actor.party == "bank-a/head-of-risk" and promoted.actor.role == "approver"
    assert promoted.details["via"] == "console" and promoted.details["username"] == "head-of-risk"


def test_officer_finds_scores_prints_and_batch_scores(
    world: World, browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    base, code = world.bank_console.url, world.usccs[0]
    sign_in(browser, base, "alice")
    browser.find_element(By.ID, "q").send_keys(code)
    click(browser, By.ID, "search")
    assert "已授权本行评分" in text(browser, "consent-state")
    click(browser, By.ID, "score")
    pd_text = text(browser, "pd")
    assert pd_text.endswith("%") and 0 < float(pd_text[:-1]) < 100
    assert text(browser, "band") in "ABCDEF"
    assert browser.find_elements(By.ID, "reasons")  # reasons: the factors raising the risk, if any
    assert "bank-a/alice" in text(browser, "history")
    shot(browser, "officer_score")
    client = cookie_client(browser, base)
    href = browser.find_element(By.ID, "pdf").get_attribute("href")
    pdf = client.get(href)
    assert (
        pdf.status_code == 200
        and pdf.content.startswith(b"%PDF")
        and b"STSong-Light" in pdf.content
    )
    scored = [e for e in world.bank_app_ctx.audit.entries() if e.event == ev.SCORE_REQUEST][-1]
    assert scored.actor.party == "bank-a/alice" and scored.details["outcome"] == "ok"
    # batch: two companies, one without consent
    csv_path = tmp_path / "portfolio.csv"
    csv_path.write_text(f"uscc\n{code}\n{world.usccs[1]}\n")
    browser.get(base + "/officer/batch")
    browser.find_element(By.ID, "file").send_keys(str(csv_path))
    click(browser, By.ID, "batch-submit")
    link = wait_for(browser, "batch-download")  # htmx polls the progress until done
    shot(browser, "officer_batch")
    result = client.get(link.get_attribute("href")).text.splitlines()
    assert result[0].startswith("line,uscc,probability_of_default")
    assert code in result[1] and result[1].split(",")[4] in "ABCDEF"
    assert world.usccs[1] in result[2] and "permission_denied" in result[2]
    client.close()


def test_regulator_reads_lineage_verifies_and_changes_nothing(world: World, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    base = world.bank_console.url
    sign_in(browser, base, "examiner")
    assert browser.current_url.endswith("/regulator")
    counts = text(browser, "counts")
    assert f"{MODEL}@1" in counts
    shot(browser, "regulator_home")
    click(browser, By.CSS_SELECTOR, "a.lineage-link")
    assert "交叉核对通过" in text(browser, "cross-check")
    assert "model_promoted" in text(browser, "trail")
    shot(browser, "regulator_lineage")
    browser.get(f"{base}/regulator/privacy?model={MODEL}@1")
    assert "hardened" in text(browser, "privacy") or "mode" in text(browser, "privacy")
    browser.get(base + "/regulator/verify")
    assert text(browser, "verify-result").startswith("校验通过")
    shot(browser, "regulator_verify")
    # read-only: the officer's and approver's pages are refused
    for path in ("/officer", "/risk/registry"):
        browser.get(base + path)
        assert text(browser, "error-heading") == "无权访问"
    reads = [e for e in world.bank_app_ctx.audit.entries() if e.event == ev.AUDIT_READ]
    assert {e.details.get("what") for e in reads if e.actor.party == "regulator/examiner"} >= {
        "lineage",
        "verify_log",
        "privacy_report",
    }
    # the regulator verifies the platform's log on the platform's console too
    sign_in(browser, world.platform_console.url, "examiner")
    assert text(browser, "verify-result").startswith("校验通过")


# -- refusals ---------------------------------------------------------------------------------
def test_wrong_password_then_lockout(world: World, browser: Any) -> None:
    base = world.bank_console.url
    sign_in(browser, base, "alice", "Wrong-password-9")
    assert text(browser, "problem") == "用户名或密码错误。"
    shot(browser, "login_refused")
    for _ in range(2):  # max_failures = 3 in the test world
        sign_in(browser, base, "alice", "Wrong-password-9")
    assert "锁定" in text(browser, "problem")
    sign_in(browser, base, "alice")  # the right password is refused while locked
    assert "锁定" in text(browser, "problem")
    world.bank_app_ctx.accounts.unlock("alice")
    sign_in(browser, base, "alice")
    assert browser.current_url.endswith("/officer")


def test_officer_cannot_open_regulator_pages(world: World, browser: Any) -> None:
    base = world.bank_console.url
    sign_in(browser, base, "alice")
    for path in ("/regulator", "/regulator/verify", f"/regulator/lineage?model={MODEL}@1"):
        browser.get(base + path)
        assert text(browser, "error-heading") == "无权访问"
    refused = [e for e in world.bank_app_ctx.audit.entries() if e.event == "console_refused"]
    assert refused[-1].actor.party == "bank-a/alice"


def test_company_cannot_see_another_company(world: World, browser: Any) -> None:
    base = world.platform_console.url
    store = world.platform_app_ctx.services["platform"].objections
    (theirs,) = store.list(world.usccs[0])
    sign_in(browser, base, world.usccs[1])
    for path in (f"/company/objections/{theirs.objection_id}",
                 f"/company/objections/{theirs.objection_id}/attachment",
                 "/operator/objections"):  # fmt: skip
        browser.get(base + path)
        assert text(browser, "error-heading") in ("未找到", "无权访问")
    browser.get(base + "/company")
    assert "郑州示例科技有限公司" not in browser.page_source  # the other company's licence


def test_post_without_csrf_token_is_refused(world: World, browser: Any) -> None:
    base = world.bank_console.url
    sign_in(browser, base, "alice")
    client = cookie_client(browser, base)
    before = len(world.bank_app_ctx.audit.entries())
    r = client.post("/officer/score", data={"uscc": world.usccs[0]})
    assert r.status_code == 403 and "CSRF" in r.text
    r = client.post("/officer/score", data={"uscc": world.usccs[0], "csrf": "forged"})
    assert r.status_code == 403
    assert len(world.bank_app_ctx.audit.entries()) == before  # nothing ran, nothing scored
    client.close()


def test_english_switch(world: World, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    base = world.bank_console.url
    sign_in(browser, base, "alice")
    click(browser, By.CSS_SELECTOR, "a.lang")
    assert "Find a company" in browser.page_source
    shot(browser, "officer_search_en")


def test_screenshots_are_committed() -> None:
    shots = Path(__file__).resolve().parent.parent / "docs" / "console"
    names = {p.stem for p in shots.glob("*.png")}
    assert {"company_records", "operator_objection", "officer_score", "risk_registry",
            "regulator_lineage"} <= names  # fmt: skip
