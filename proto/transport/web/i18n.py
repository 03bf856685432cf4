"""One message catalogue for both consoles: Simplified Chinese by default, English on request.

``messages.json`` maps each key to ``{"zh-CN": text, "en": text}``; texts may hold
``{name}`` fields filled by :meth:`Catalogue.text`. Every string a page shows comes from here
(templates call ``t(KEY)``); ``tests/test_console_units.py`` checks that every key used by a
template or by the code exists in both languages.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

LANGS = ("zh-CN", "en")
DEFAULT_LANG = "zh-CN"
CATALOGUE_PATH = Path(__file__).with_name("messages.json")


class Catalogue:
    def __init__(self, messages: dict[str, dict[str, str]]) -> None:
        self.messages = messages

    @classmethod
    def load(cls, path: Path = CATALOGUE_PATH) -> Catalogue:
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def text(self, key: str, lang: str = DEFAULT_LANG, **fields: Any) -> str:
        entry = self.messages.get(key)
        if entry is None:  # a missing key shows itself, never crashes a page (tests catch it)
            return key
        text = entry.get(lang) or entry.get(DEFAULT_LANG) or key
        if fields:
            try:
                return text.format(**fields)
            except (KeyError, IndexError, ValueError):
                return text
        return text

    def missing(self) -> list[str]:
        """Keys lacking a language."""
        return sorted(k for k, v in self.messages.items() if any(not v.get(x) for x in LANGS))


@lru_cache(maxsize=1)
def catalogue() -> Catalogue:
    return Catalogue.load()


def pick_lang(value: str | None) -> str:
    return value if value in LANGS else DEFAULT_LANG
