"""The platform's point-in-time features, defined as SQL aggregates over catalogue tables.

Each feature is one aggregate expression evaluated, per query row ``q`` (an enterprise and an
as-of date), over the records ``t`` of one table with ``t.uscc = q.uscc`` and
``t.event_date < q.as_of`` (strictly before: the point-in-time rule is enforced by the engine,
not by each feature). Windows narrow this further, e.g. "3y" = records dated in
``[as_of - 36 months, as_of)``. A record that ends (a removal from a list, a cleared arrear)
counts as ended only if its end date is also before the as-of date.

The feature dictionary in docs/features.md is generated from this module
(``python -m platform_node.features.dictionary``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from platform_node.catalogue.schema import CATEGORY_OF_TABLE, Sensitivity, table


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    table: str
    sql: str
    meaning: str
    window: str

    @property
    def category(self) -> str:
        return CATEGORY_OF_TABLE[self.table]

    @property
    def inputs(self) -> tuple[str, ...]:
        """Columns of the table the expression reads."""
        return tuple(sorted(set(re.findall(r"\bt\.(\w+)", self.sql))))


def within(months: int) -> str:
    return f"t.event_date >= q.as_of - INTERVAL {months} MONTH"


def in_force(end_column: str) -> str:
    """The record has not ended before the as-of date."""
    return f"(t.{end_column} IS NULL OR t.{end_column} >= q.as_of)"


def _window(months: int | None, where: str | None = None) -> str:
    if months is None:
        return "at as-of" if where and ">= q.as_of)" in where else "all history"
    return f"{months // 12}y" if months % 12 == 0 else f"{months}m"


def _where(*conds: str | None) -> str:
    parts = [c for c in conds if c]
    return f" FILTER (WHERE {' AND '.join(parts)})" if parts else ""


def count(
    name: str, tbl: str, meaning: str, months: int | None = None, where: str | None = None
) -> FeatureSpec:
    sql = f"count(t.uscc){_where(within(months) if months else None, where)}"
    return FeatureSpec(name, tbl, sql, meaning, _window(months, where))


def total(
    name: str,
    tbl: str,
    expr: str,
    meaning: str,
    months: int | None = None,
    where: str | None = None,
) -> FeatureSpec:
    sql = f"coalesce(sum({expr}){_where(within(months) if months else None, where)}, 0)"
    return FeatureSpec(name, tbl, sql, meaning, _window(months, where))


def flag(name: str, tbl: str, cond: str, meaning: str, window: str = "at as-of") -> FeatureSpec:
    """1 if some record satisfies ``cond`` (0 when there is none)."""
    sql = f"coalesce(max(CASE WHEN t.uscc IS NOT NULL AND ({cond}) THEN 1 ELSE 0 END), 0)"
    return FeatureSpec(name, tbl, sql, meaning, window)


def latest(
    name: str, tbl: str, expr: str, meaning: str, order: str = "t.event_date"
) -> FeatureSpec:
    return FeatureSpec(name, tbl, f"arg_max({expr}, {order})", meaning, "latest before as-of")


def custom(name: str, tbl: str, sql: str, meaning: str, window: str) -> FeatureSpec:
    return FeatureSpec(name, tbl, sql, meaning, window)


def _growth(expr: str) -> str:
    """Last 12 months vs the 12 months before (NULL when either is missing or zero)."""
    recent = f"sum({expr}) FILTER (WHERE {within(12)})"
    before = (
        f"sum({expr}) FILTER (WHERE t.event_date < q.as_of - INTERVAL 12 MONTH AND {within(24)})"
    )
    return f"{recent} / NULLIF({before}, 0) - 1"


def _trend(expr: str) -> str:
    """Latest value vs the latest value at least 12 months before the as-of date."""
    old = f"arg_max({expr}, t.event_date) FILTER (WHERE t.event_date < q.as_of - INTERVAL 12 MONTH)"
    return f"arg_max({expr}, t.event_date) / NULLIF({old}, 0)"


GRADE = "CASE t.grade WHEN 'A' THEN 5 WHEN 'B' THEN 4 WHEN 'M' THEN 3 WHEN 'C' THEN 2 ELSE 1 END"
ENV = ("CASE t.rating WHEN 'green' THEN 5 WHEN 'blue' THEN 4 WHEN 'yellow' THEN 3 "
       "WHEN 'red' THEN 2 ELSE 1 END")  # fmt: skip
CUSTOMS = ("CASE t.credit_level WHEN 'advanced_certified' THEN 4 WHEN 'general_certified' THEN 3 "
           "WHEN 'general' THEN 2 ELSE 1 END")  # fmt: skip
AGRI = "CASE t.level WHEN 'national' THEN 3 WHEN 'provincial' THEN 2 ELSE 1 END"
TAX_DUE = "(t.vat_payable + t.cit_payable)"
TAX_PAID = "(t.vat_paid + t.cit_paid)"
SI_PAID = (
    "(t.pension_paid + t.medical_paid + t.unemployment_paid + t.injury_paid + t.maternity_paid)"
)
UTIL_BILLED = "(t.electricity_billed + t.water_billed + t.gas_billed)"
UTIL_PAID = "(t.electricity_paid + t.water_paid + t.gas_paid)"

FEATURES: tuple[FeatureSpec, ...] = (
    # 1 registration ---------------------------------------------------------------------
    custom("reg_age_years", "licence",
           "date_diff('day', max(t.founding_date), CAST(q.as_of AS DATE)) / 365.25",
           "enterprise age in years at the as-of date", "at as-of"),
    latest("reg_capital", "licence", "t.registered_capital", "registered capital, 10k CNY"),
    custom("reg_deregistered", "licence",
           "max(CASE WHEN t.uscc IS NULL THEN NULL "
           "WHEN t.status <> 'active' AND t.status_date < q.as_of THEN 1 ELSE 0 END)",
           "1 if deregistered or revoked before the as-of date", "at as-of"),
    latest("reg_industry_section", "licence", "ascii(substr(t.industry_code, 1, 1)) - 64",
           "GB/T 4754 industry section as a number (A=1, B=2, ...)"),
    count("reg_changes_3y", "changes", "registration changes", 36),
    count("reg_legal_rep_changes_3y", "changes", "changes of legal representative", 36,
          "t.change_type = 'legal_rep'"),
    count("reg_shareholders", "shareholders", "shareholders on record"),
    custom("reg_legal_person_shareholder_share", "shareholders",
           "avg(CASE WHEN t.shareholder_kind = 'legal_person' THEN 1 ELSE 0 END)",
           "share of shareholders that are legal persons", "all history"),
    custom("reg_paid_in_ratio", "shareholders",
           "sum(t.paid_in_capital) / NULLIF(sum(t.subscribed_capital), 0)",
           "paid-in over subscribed capital", "all history"),
    count("reg_branches", "branches", "branch offices registered"),
    count("reg_equity_pledges_in_force", "equity_pledges", "equity pledges not released",
          where=in_force("release_date")),
    total("reg_pledged_amount_3y", "equity_pledges", "t.pledged_amount",
          "equity pledged, 10k CNY", 36),
    latest("ar_revenue", "annual_reports", "t.revenue", "revenue in the latest annual report",
           "t.report_year"),
    custom("ar_revenue_growth", "annual_reports", _growth("t.revenue"),
           "revenue growth, report filed in the last 12 months vs the one before", "2y"),
    latest("ar_leverage", "annual_reports", "t.liabilities / NULLIF(t.total_assets, 0)",
           "liabilities over assets, latest annual report", "t.report_year"),
    latest("ar_net_margin", "annual_reports", "t.net_profit / NULLIF(t.revenue, 0)",
           "net profit over revenue, latest annual report", "t.report_year"),
    latest("ar_employees", "annual_reports", "t.employees", "employees, latest annual report",
           "t.report_year"),
    custom("ar_headcount_trend", "annual_reports", _growth("t.employees"),
           "headcount growth between the two latest annual reports", "2y"),
    latest("ar_guarantees_to_assets", "annual_reports",
           "t.guarantees_given / NULLIF(t.total_assets, 0)",
           "external guarantees over assets, latest annual report", "t.report_year"),
    count("ar_reports_filed_3y", "annual_reports", "annual reports filed", 36),
    flag("reg_abnormal_listed", "abnormal_operations", in_force("removal_date"),
         "1 if on the abnormal-operation list at the as-of date"),
    count("reg_abnormal_listings_3y", "abnormal_operations",
          "listings on the abnormal-operation list", 36),
    flag("reg_serious_violation_listed", "serious_violations", in_force("removal_date"),
         "1 if on the serious-violation list at the as-of date"),
    count("reg_spot_check_failures_3y", "spot_checks", "failed spot checks", 36,
          "t.result = 'fail'"),
    # 2 judicial --------------------------------------------------------------------------
    count("jud_defendant_cases_3y", "judgments", "judgments as defendant", 36,
          "t.role = 'defendant'"),
    total("jud_defendant_amount_3y", "judgments", "t.amount",
          "amount at stake as defendant, 10k CNY", 36, "t.role = 'defendant'"),
    count("jud_plaintiff_cases_3y", "judgments", "judgments as plaintiff", 36,
          "t.role = 'plaintiff'"),
    count("jud_enforcements_3y", "enforcements", "enforcement cases", 36),
    total("jud_open_enforcement_amount", "enforcements", "t.amount",
          "amount of enforcement cases still open at the as-of date, 10k CNY",
          where=in_force("closed_date")),
    count("jud_terminated_enforcements_3y", "enforcements", "terminated enforcement cases", 36,
          "t.status = 'terminated' AND t.closed_date < q.as_of"),
    flag("jud_dishonest_listed", "dishonest_debtors", in_force("removal_date"),
         "1 if on the dishonest judgment debtor list at the as-of date"),
    count("jud_dishonest_listings_5y", "dishonest_debtors", "dishonest-debtor listings", 60),
    count("jud_bankruptcy_cases", "bankruptcies", "bankruptcy cases"),
    # 3 tax --------------------------------------------------------------------------------
    latest("tax_grade", "tax_credit_grades", GRADE, "latest tax credit grade (A=5 .. D=1)",
           "t.eval_year"),
    custom("tax_grade_worst_3y", "tax_credit_grades", f"min({GRADE}) FILTER (WHERE {within(36)})",
           "worst tax credit grade (A=5 .. D=1)", "3y"),
    flag("tax_abnormal_listed", "tax_abnormal", in_force("removal_date"),
         "1 if an abnormal (non-filing) taxpayer at the as-of date"),
    total("tax_arrears_outstanding", "tax_arrears", "t.amount",
          "tax arrears not cleared at the as-of date, 10k CNY", where=in_force("cleared_date")),
    count("tax_arrears_3y", "tax_arrears", "tax arrears announcements", 36),
    total("tax_vat_paid_1y", "tax_payments", "t.vat_paid", "VAT paid, 10k CNY", 12),
    custom("tax_payment_ratio_1y", "tax_payments",
           f"sum({TAX_PAID}) FILTER (WHERE {within(12)}) / "
           f"NULLIF(sum({TAX_DUE}) FILTER (WHERE {within(12)}), 0)",
           "VAT and income tax paid on time over payable", "1y"),
    custom("tax_months_continuous_normal", "tax_payments",
           "date_diff('month', coalesce(max(t.period_end) FILTER (WHERE "
           f"{TAX_PAID} < 0.999 * {TAX_DUE}), min(t.period_end) - INTERVAL 3 MONTH), "
           "CAST(q.as_of AS DATE))",
           "months of continuous normal payment up to the as-of date (history up to 2 years)",
           "up to 2y"),
    custom("tax_days_since_normal_payment", "tax_payments",
           f"date_diff('day', max(t.event_date) FILTER (WHERE {TAX_PAID} >= 0.999 * {TAX_DUE}), "
           "CAST(q.as_of AS DATE))",
           "days since the last normal payment", "all history"),
    custom("tax_vat_growth", "tax_payments", _growth("t.vat_payable"),
           "VAT payable, last 12 months vs the 12 months before", "2y"),
    # 4 housing provident fund -------------------------------------------------------------
    latest("fund_contributors", "fund_contributions", "t.contributors",
           "employees contributing to the housing fund"),
    custom("fund_contributors_trend", "fund_contributions", _trend("t.contributors"),
           "contributors now over contributors a year earlier", "latest vs 1y before"),
    count("fund_arrears_quarters_1y", "fund_contributions", "quarters with fund arrears", 12,
          "t.arrears_amount > 0"),
    count("fund_quarters_reported_2y", "fund_contributions", "quarters with contributions", 24),
    # 5 social insurance -------------------------------------------------------------------
    latest("si_headcount", "social_insurance", "t.insured_headcount", "insured employees"),
    custom("si_headcount_trend", "social_insurance", _trend("t.insured_headcount"),
           "insured headcount now over a year earlier", "latest vs 1y before"),
    total("si_paid_1y", "social_insurance", SI_PAID,
          "contributions paid over the five insurances, 10k CNY", 12),
    count("si_arrears_quarters_1y", "social_insurance", "quarters with contribution arrears",
          12, "t.arrears_amount > 0"),
    total("si_arrears_amount_1y", "social_insurance", "t.arrears_amount",
          "contributions in arrears, 10k CNY", 12),
    # 6 environment ------------------------------------------------------------------------
    latest("env_rating", "environmental_ratings", ENV,
           "latest environmental credit rating (green=5 .. black=1)", "t.eval_year"),
    count("env_red_black_3y", "environmental_ratings", "red or black environmental ratings", 36,
          "t.rating IN ('red', 'black')"),
    # 7 customs ----------------------------------------------------------------------------
    flag("cus_registered", "customs_records", "t.record_type = 'registration'",
         "1 if registered with customs", "all history"),
    latest("cus_credit_level", "customs_records", CUSTOMS,
           "customs credit level (advanced certified=4 .. dishonest=1)"),
    # 8 trademarks and patents -------------------------------------------------------------
    count("ip_trademarks", "ip_rights", "registered trademarks",
          where="t.right_type = 'trademark'"),
    count("ip_invention_patents", "ip_rights", "granted invention patents",
          where="t.right_type = 'invention_patent'"),
    count("ip_patents_3y", "ip_rights", "patents of any type granted", 36,
          "t.right_type <> 'trademark'"),
    # 9 software copyrights ----------------------------------------------------------------
    count("sw_copyrights", "software_copyrights", "registered software copyrights"),
    count("sw_copyrights_3y", "software_copyrights", "software copyrights registered", 36),
    # 10 real estate -----------------------------------------------------------------------
    count("re_properties_owned", "real_estate", "properties owned at the as-of date",
          where=f"t.record_type = 'ownership' AND {in_force('end_date')}"),
    count("re_mortgages_in_force", "real_estate", "mortgages in force at the as-of date",
          where=f"t.record_type = 'mortgage' AND {in_force('end_date')}"),
    count("re_seizures_3y", "real_estate", "property seizures", 36, "t.record_type = 'seizure'"),
    count("re_seizures_in_force", "real_estate", "seizures in force at the as-of date",
          where=f"t.record_type = 'seizure' AND {in_force('end_date')}"),
    # 11 administrative --------------------------------------------------------------------
    count("adm_penalties_1y", "admin_actions", "administrative penalties", 12,
          "t.action_type = 'penalty'"),
    count("adm_penalties_3y", "admin_actions", "administrative penalties", 36,
          "t.action_type = 'penalty'"),
    total("adm_fines_3y", "admin_actions", "t.fine_amount", "fines, 10k CNY", 36,
          "t.action_type = 'penalty'"),
    count("adm_coercive_3y", "admin_actions", "administrative coercive measures", 36,
          "t.action_type = 'coercive_measure'"),
    count("adm_rewards_3y", "admin_actions", "administrative rewards", 36,
          "t.action_type = 'reward'"),
    count("adm_licences", "admin_actions", "administrative licences granted",
          where="t.action_type = 'licence'"),
    count("adm_inspection_failures_3y", "admin_actions", "failed administrative inspections", 36,
          "t.action_type = 'inspection' AND t.result = 'fail'"),
    # 12 utilities -------------------------------------------------------------------------
    total("utl_electricity_1y", "utility_payments", "t.electricity_billed",
          "electricity billed, 10k CNY", 12),
    custom("utl_electricity_growth", "utility_payments", _growth("t.electricity_billed"),
           "electricity billed, last 12 months vs the 12 months before", "2y"),
    count("utl_arrears_quarters_1y", "utility_payments",
          "quarters with unpaid water, electricity or gas", 12,
          f"{UTIL_PAID} < 0.999 * {UTIL_BILLED}"),
    # 13 technology ------------------------------------------------------------------------
    flag("tec_high_tech", "tech_records",
         "t.record_type = 'high_tech_certificate' AND t.expiry_date >= q.as_of",
         "1 if holding a valid high-tech enterprise certificate"),
    flag("tec_tech_sme", "tech_records", "t.record_type = 'tech_sme' AND t.expiry_date >= q.as_of",
         "1 if registered as a technology-based SME"),
    total("tec_research_support_3y", "tech_records", "t.amount", "research support, 10k CNY", 36,
          "t.record_type = 'research_grant'"),
    # 14 new agricultural business entities --------------------------------------------------
    flag("agr_recognised", "agri_entities", "TRUE",
         "1 if recognised as a new agricultural business entity", "all history"),
    latest("agr_level", "agri_entities", AGRI,
           "recognition level (national=3, provincial=2, municipal=1)"),
    # 15 public resource trading -------------------------------------------------------------
    count("pub_contracts_3y", "public_trading", "tenders won and procurement contracts", 36),
    total("pub_contract_amount_3y", "public_trading", "t.amount",
          "amount of tenders and procurement contracts, 10k CNY", 36),
)  # fmt: skip

FEATURE_BY_NAME: dict[str, FeatureSpec] = {f.name: f for f in FEATURES}


def check_definitions() -> None:
    """Every feature reads existing, non-personal columns; names are unique.

    Raises
    ------
    ValueError
        When a definition breaks one of these rules (a programming error).
    """
    if len(FEATURE_BY_NAME) != len(FEATURES):
        raise ValueError("duplicate feature names")
    for f in FEATURES:
        spec = table(f.table)
        for column in f.inputs:
            try:
                field = spec.field(column)
            except KeyError:
                raise ValueError(f"feature {f.name} reads unknown column {column}") from None
            if field.sensitivity is Sensitivity.PERSONAL:
                raise ValueError(f"feature {f.name} reads personal column {column}")


check_definitions()
