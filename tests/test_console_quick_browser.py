"""The platform console in a real browser (Debian's chromium through Selenium), quick enough
for ``make test``: a company's records, consent and objection (with script in its text, shown
inert), the operator deciding it, the company seeing each step, and the refusals of another
company and of a POST without CSRF token. The full story against both nodes is
``tests/test_console_browser.py`` (slow)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from experiments.support.console import _catalogue, cheap_hashes
from experiments.support.grpc_harness import KNOWN, shared_pki
from models.uscc import generate_usccs
from platform_node.consent.registry import ConsentRegistry
from proto.transport.audit_servicer import open_node_audit_log
from proto.transport.tls import TlsFiles
from proto.transport.web.config import ConsoleConfig
from proto.transport.web.serve import ConsoleServer
from tests.test_console_browser import (
    CHROMIUM,
    DRIVER,
    INJECTION,
    browser,  # noqa: F401  (the module's browser fixture)
    click,
    cookie_client,
    sign_in,
    text,
)

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and DRIVER.exists()),
    reason="Debian's chromium and chromium-driver are not installed (make installs them)",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from bank_node.console.demo import create_demo_accounts
    from platform_node.console.app import build_platform_console

    root = tmp_path_factory.mktemp("console-quick")
    a, b = generate_usccs(2, np.random.default_rng(4))
    _catalogue(root, a, b)
    audit = open_node_audit_log(root, "platform", "platform")
    consent = ConsentRegistry.in_data_dir(root, audit)
    with cheap_hashes():
        create_demo_accounts(None, root, companies=[a, b])
        app, ctx = build_platform_console(
            party="platform", data_dir=root, audit=audit, consent=consent,
            known_parties=dict(KNOWN), console_config=ConsoleConfig(enabled=True),
        )  # fmt: skip
    tls = TlsFiles.in_pki_dir(shared_pki(), "platform")
    server = ConsoleServer(app, "127.0.0.1:0", certfile=tls.cert, keyfile=tls.key).start()
    yield {"url": server.url, "a": a, "b": b, "ctx": ctx, "consent": consent, "audit": audit}
    server.stop()
    consent.close()


def test_company_objects_operator_decides_company_sees_it(
    site: dict[str, Any],
    browser: Any,  # noqa: F811  (the fixture imported above)
) -> None:
    from selenium.webdriver.common.by import By

    base, a = site["url"], site["a"]
    sign_in(browser, base, a)
    assert "2023-05-10" in text(browser, "cat-judicial")
    browser.get(base + "/company/consents")
    click(browser, By.ID, "grant")
    assert site["consent"].list(a)[0].bank_party == "bank-a"
    browser.get(base + "/company")
    click(browser, By.CSS_SELECTOR, "#cat-judicial tr.record .object-link")
    browser.find_element(By.ID, "reason").send_keys(INJECTION)
    click(browser, By.ID, "submit-objection")
    reason = browser.find_element(By.ID, "reason-text")
    assert INJECTION in reason.text and reason.find_elements(By.TAG_NAME, "b") == []
    assert browser.execute_script("return window.__pwned === undefined")
    objection = browser.current_url
    # another company: the objection does not exist for it
    sign_in(browser, base, site["b"])
    browser.get(objection)
    assert text(browser, "error-heading") == "未找到"
    # a POST without the CSRF token is refused
    client = cookie_client(browser, base)
    assert client.post("/company/consents/grant", data={"bank": "bank-a"}).status_code == 403
    client.close()
    assert site["consent"].list(site["b"]) == []
    # the operator rejects it with a reason; the company sees the step
    sign_in(browser, base, "operator")
    browser.get(objection.replace("/company/", "/operator/"))
    browser.find_element(By.ID, "note").send_keys("记录与法院公告一致")
    click(browser, By.ID, "reject")
    assert text(browser, "state") == "已驳回"
    sign_in(browser, base, a)
    browser.get(objection)
    assert "记录与法院公告一致" in text(browser, "steps")
