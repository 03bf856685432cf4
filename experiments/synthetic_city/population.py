"""The enterprises of a Zhengzhou-like city: industry, size, age, status and latent credit quality.

The latent quality ``z ~ N(0, 1)`` is never written out; it drives event rates on the platform
side (court cases, penalties, arrears, tax grades...) and, more weakly, the bank's account data
and loan outcomes. That is what makes the joint model better than the bank-only one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from experiments.synthetic_city.common import (
    DAYS_PER_YEAR,
    NULL_DAY,
    Timeline,
    choose,
    day,
    rng_for,
    sigmoid,
)
from models.uscc import ZHENGZHOU_DIVISIONS, generate_usccs

# GB/T 4754-2017 sections with a Zhengzhou-like share of enterprises and typical divisions.
SECTIONS: list[tuple[str, float, list[str]]] = [
    ("F", 0.33, ["F51", "F52"]),  # wholesale and retail
    ("L", 0.12, ["L71", "L72"]),  # leasing and business services
    ("C", 0.09, ["C13", "C14", "C26", "C30", "C36", "C38", "C39"]),  # manufacturing
    ("M", 0.08, ["M73", "M74", "M75"]),  # scientific research and technical services
    ("E", 0.08, ["E47", "E48", "E50"]),  # construction
    ("I", 0.07, ["I63", "I64", "I65"]),  # information technology
    ("G", 0.05, ["G54", "G58", "G59"]),  # transport, storage and logistics
    ("H", 0.04, ["H61", "H62"]),  # accommodation and catering
    ("K", 0.03, ["K70"]),  # real estate
    ("A", 0.03, ["A01", "A03", "A05"]),  # agriculture
    ("O", 0.03, ["O80", "O81"]),  # resident services
    ("R", 0.02, ["R86", "R88"]),  # culture and sport
    ("P", 0.01, ["P83"]),  # education
    ("Q", 0.01, ["Q84"]),  # health
    ("N", 0.01, ["N77"]),  # environment and public facilities
]
SIZES = ["micro", "small", "medium", "large"]
TECH_SECTIONS = {"M", "I"}
DISTRICT_NAMES = {
    "410100": "市辖区", "410102": "中原区", "410103": "二七区", "410104": "管城回族区",
    "410105": "金水区", "410106": "上街区", "410108": "惠济区", "410122": "中牟县",
    "410171": "经济技术开发区", "410172": "高新技术产业开发区", "410173": "航空港经济综合实验区",
    "410181": "巩义市", "410182": "荥阳市", "410183": "新密市", "410184": "新郑市",
    "410185": "登封市",
}  # fmt: skip
_WORDS = np.array(list("华中原豫嵩黄河商都金盛鑫源达通瑞丰宏远泰康安恒信诚博创新兴隆佳德"))
_SURNAMES = np.array(list("王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹"))
_GIVEN = np.array(list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志"))
_SUFFIX = {
    "F": "商贸", "L": "企业管理", "C": "制造", "M": "科技", "E": "建设工程", "I": "信息技术",
    "G": "物流", "H": "餐饮管理", "K": "置业", "A": "农业", "O": "家政服务", "R": "文化传媒",
    "P": "教育咨询", "Q": "医疗管理", "N": "环保工程",
}  # fmt: skip


@dataclass
class Population:
    """Column arrays, one entry per enterprise (days are days since 1970-01-01)."""

    uscc: np.ndarray
    section: np.ndarray
    industry_code: np.ndarray
    size: np.ndarray  # index into SIZES
    employees: np.ndarray  # headcount at as-of (float)
    scale: np.ndarray  # yearly revenue at as-of, 10k CNY
    growth: np.ndarray  # yearly log growth
    capital: np.ndarray
    founding: np.ndarray
    dereg: np.ndarray  # NULL_DAY when active
    status: np.ndarray
    z: np.ndarray  # latent credit quality (never written)
    coop: np.ndarray  # farmers' cooperative (prefix 93)

    @property
    def n(self) -> int:
        return int(self.uscc.shape[0])

    @property
    def division(self) -> np.ndarray:
        return _division(self.uscc)

    def active_window(self, tl: Timeline) -> tuple[np.ndarray, np.ndarray]:
        """Per enterprise, the days on which it produces records: [founding or history, end]."""
        start = np.maximum(self.founding, tl.history_start)
        end = np.where(self.dereg == NULL_DAY, tl.end, np.minimum(self.dereg, tl.end))
        return start, end

    def rate_multiplier(self, beta: float) -> np.ndarray:
        """exp(-beta * z), normalised to mean 1: beta > 0 makes bad enterprises more frequent."""
        return np.exp(-beta * self.z - beta * beta / 2.0)


def _division(uscc: np.ndarray) -> np.ndarray:
    chars = uscc.astype("U18").view(np.uint32).reshape(-1, 18)[:, 2:8]
    return np.ascontiguousarray(chars).view("U6").ravel()


def make_population(n: int, seed: int, tl: Timeline) -> Population:
    """Draw ``n`` enterprises (vectorised; deterministic for ``seed``)."""
    rng = rng_for(seed, "population")
    letters = [s for s, _, _ in SECTIONS]
    weights = [w for _, w, _ in SECTIONS]
    section = choose(rng, letters, weights, n)
    industry = np.empty(n, dtype="U3")
    for s, _, divisions in SECTIONS:
        rows = np.flatnonzero(section == s)
        industry[rows] = np.asarray(divisions)[rng.integers(0, len(divisions), rows.size)]

    coop = (section == "A") & (rng.random(n) < 0.45)
    uscc = np.empty(n, dtype="U18")
    uscc[~coop] = generate_usccs(int((~coop).sum()), rng, ZHENGZHOU_DIVISIONS)
    uscc[coop] = generate_usccs(int(coop.sum()), rng, ZHENGZHOU_DIVISIONS, prefixes=("93",))

    heavy = np.isin(section, ["C", "E", "G"])
    u = rng.random(n)
    cuts_light = np.cumsum([0.80, 0.15, 0.04])
    cuts_heavy = np.cumsum([0.58, 0.28, 0.11])
    size = np.where(heavy, np.searchsorted(cuts_heavy, u), np.searchsorted(cuts_light, u))
    lo = np.array([1.0, 10.0, 100.0, 1000.0])[size]
    hi = np.array([9.0, 99.0, 999.0, 20000.0])[size]
    employees = np.exp(np.log(lo) + rng.beta(1.2, 3.0, n) * (np.log(hi) - np.log(lo)))
    per_head = np.where(section == "F", 60.0, np.where(heavy, 45.0, 30.0))
    scale = employees * per_head * rng.lognormal(0.0, 0.5, n)

    age = np.minimum(rng.exponential(8.0, n), 38.0) + 0.05
    founding = (tl.end - age * DAYS_PER_YEAR).astype(np.int64)
    z = rng.normal(0.0, 1.0, n) + 0.15 * (np.log1p(np.maximum(age - 2.0, 0.0)) - 1.2)
    growth = 0.03 + 0.10 * z + rng.normal(0.0, 0.05, n)
    capital = np.round(employees * 15.0 * rng.lognormal(0.0, 0.9, n), 1)

    p_dereg = sigmoid(-2.3 - 0.9 * z - 0.3 * np.log1p(age))
    earliest = np.maximum(founding + 180, tl.history_start)
    can = earliest < tl.end
    dereg_flag = can & (rng.random(n) < p_dereg)
    dereg = np.full(n, NULL_DAY, dtype=np.int64)
    span = np.maximum(tl.end - earliest, 0)
    dereg[dereg_flag] = (earliest + rng.random(n) * span).astype(np.int64)[dereg_flag]
    status = np.full(n, "active", dtype="U12")
    revoked = dereg_flag & (z < -0.8) & (rng.random(n) < 0.4)
    status[dereg_flag] = "deregistered"
    status[revoked] = "revoked"
    return Population(
        uscc=uscc,
        section=section,
        industry_code=industry,
        size=size.astype(np.int64),
        employees=employees,
        scale=scale,
        growth=growth,
        capital=capital,
        founding=founding,
        dereg=dereg,
        status=status,
        z=z,
        coop=coop,
    )


def company_names(pop: Population, rng: np.random.Generator) -> np.ndarray:
    n = pop.n
    w = _WORDS[rng.integers(0, len(_WORDS), (n, 2))]
    base = np.char.add(np.char.add("郑州", w[:, 0]), w[:, 1])
    suffix = np.vectorize(_SUFFIX.get, otypes=["U8"])(pop.section)
    kind = np.where(pop.coop, "专业合作社", "有限公司")
    serial = rng.integers(0, 100, n).astype("U2")
    return np.char.add(np.char.add(np.char.add(base, serial), suffix), kind)


def person_names(rng: np.random.Generator, n: int) -> np.ndarray:
    s = _SURNAMES[rng.integers(0, len(_SURNAMES), n)]
    g = _GIVEN[rng.integers(0, len(_GIVEN), (n, 2))]
    two = rng.random(n) < 0.7
    given = np.where(two, np.char.add(g[:, 0], g[:, 1]), g[:, 0])
    return np.char.add(s, given)


def resident_ids(rng: np.random.Generator, division: np.ndarray) -> np.ndarray:
    """Synthetic 18-character resident ID numbers (personal data: never leaves the platform)."""
    n = division.shape[0]
    birth = day("1955-01-01") + rng.integers(0, 45 * 365, n)
    dates = np.datetime_as_string(birth.astype("datetime64[D]")).astype("U10")
    ymd = np.char.replace(dates, "-", "")
    seq = rng.integers(0, 1000, n).astype("U3")
    seq = np.char.zfill(seq, 3)
    body = np.char.add(np.char.add(division, ymd), seq)
    digits = body.astype("U17").view(np.uint32).reshape(-1, 17).astype(np.int64) - 48
    weights = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
    check = np.array(list("10X98765432"))[(digits * weights).sum(axis=1) % 11]
    return np.char.add(body, check)


def addresses(pop: Population, rng: np.random.Generator) -> np.ndarray:
    district = np.vectorize(DISTRICT_NAMES.get, otypes=["U16"])(pop.division)
    road = _WORDS[rng.integers(0, len(_WORDS), (pop.n, 2))]
    number = rng.integers(1, 300, pop.n).astype("U3")
    street = np.char.add(np.char.add(road[:, 0], road[:, 1]), "路")
    return np.char.add(
        np.char.add(np.char.add("郑州市", district), street), np.char.add(number, "号")
    )


def size_names(pop: Population) -> np.ndarray:
    return np.asarray(SIZES)[pop.size]


def is_tech(pop: Population) -> np.ndarray:
    return np.isin(pop.section, list(TECH_SECTIONS)) | np.isin(pop.industry_code, ["C26", "C39"])
