"""The city's shared public credit information list, as code.

Fifteen categories; each holds one or more record tables. Every table has two common columns,
``uscc`` (the enterprise) and ``event_date`` (the day the record took effect and became known to
the platform; the point-in-time rule compares this date with the as-of date), followed by its
own fields. Each field has a type and a sensitivity level:

``public``
    Published information (licence, court records, penalties): usable in features, may be shown.
``restricted``
    Shared with the platform for credit use only (tax payments, headcounts, financials): usable
    in features and aggregates, never released record by record.
``personal``
    Personal information of natural persons (a legal representative's ID number): it stays on
    the platform, is never a feature and never leaves the platform in any form.

Each category is shared with the platform in one of two modes: ``physical_aggregation`` (the
records are copied into the platform's store) or ``interface_call`` (the records stay at the
providing agency and are fetched at use time, for an enterprise that has authorised the
requesting bank only).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import pyarrow as pa

from models.errors import InvalidArgument


class Sensitivity(enum.Enum):
    PUBLIC = "public"
    RESTRICTED = "restricted"
    PERSONAL = "personal"


class SharingMode(enum.Enum):
    PHYSICAL_AGGREGATION = "physical_aggregation"
    INTERFACE_CALL = "interface_call"


class FieldType(enum.Enum):
    STR = "str"
    DATE = "date"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"

    def arrow(self) -> pa.DataType:
        return _ARROW[self]


_ARROW = {
    FieldType.STR: pa.string(),
    FieldType.DATE: pa.date32(),
    FieldType.INT: pa.int64(),
    FieldType.FLOAT: pa.float64(),
    FieldType.BOOL: pa.bool_(),
}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: FieldType
    sensitivity: Sensitivity
    meaning: str
    nullable: bool = True


@dataclass(frozen=True)
class TableSpec:
    """One record table of a category (e.g. ``enforcements`` in ``judicial``)."""

    name: str
    meaning: str
    fields: tuple[FieldSpec, ...]

    @property
    def all_fields(self) -> tuple[FieldSpec, ...]:
        """The common columns ``uscc`` and ``event_date`` followed by the table's own fields."""
        return COMMON_FIELDS + self.fields

    def field(self, name: str) -> FieldSpec:
        for f in self.all_fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(f.name, f.type.arrow(), f.nullable) for f in self.all_fields])


@dataclass(frozen=True)
class CategorySpec:
    number: int
    key: str
    title: str
    sharing: SharingMode
    tables: tuple[TableSpec, ...]


COMMON_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("uscc", FieldType.STR, Sensitivity.PUBLIC, "unified social credit code", False),
    FieldSpec(
        "event_date",
        FieldType.DATE,
        Sensitivity.PUBLIC,
        "day the record took effect and reached the platform (point-in-time key)",
        False,
    ),
)

P, R, X = Sensitivity.PUBLIC, Sensitivity.RESTRICTED, Sensitivity.PERSONAL
S, D, N, F = FieldType.STR, FieldType.DATE, FieldType.INT, FieldType.FLOAT
PHYS, CALL = SharingMode.PHYSICAL_AGGREGATION, SharingMode.INTERFACE_CALL


def _f(name: str, typ: FieldType, sens: Sensitivity, meaning: str) -> FieldSpec:
    return FieldSpec(name, typ, sens, meaning)


def _t(name: str, meaning: str, *fields: FieldSpec) -> TableSpec:
    return TableSpec(name, meaning, tuple(fields))


CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec(1, "registration", "Market-entity registration", PHYS, (
        _t("licence", "business licence; event_date = founding date",
           _f("name", S, P, "registered name"),
           _f("legal_rep_name", S, X, "legal representative's name"),
           _f("legal_rep_id_number", S, X, "legal representative's resident ID number"),
           _f("founding_date", D, P, "date of establishment"),
           _f("address", S, P, "registered address"),
           _f("status", S, P, "active / deregistered / revoked"),
           _f("status_date", D, P, "date the status other than active took effect"),
           _f("registration_authority", S, P, "registering market regulation bureau"),
           _f("industry_code", S, P, "GB/T 4754-2017 industry (section letter + division)"),
           _f("registered_capital", F, P, "registered capital, 10k CNY")),
        _t("changes", "registration changes",
           _f("change_type", S, P, "name / address / legal_rep / capital / scope / shareholder")),
        _t("shareholders", "shareholders and capital; event_date = date of entry",
           _f("shareholder_name", S, R, "shareholder's name"),
           _f("shareholder_id_number", S, X, "natural-person shareholder's ID number"),
           _f("shareholder_kind", S, P, "natural_person / legal_person / state"),
           _f("subscribed_capital", F, P, "subscribed capital, 10k CNY"),
           _f("paid_in_capital", F, P, "paid-in capital, 10k CNY")),
        _t("branches", "branch offices",
           _f("branch_name", S, P, "branch name"),
           _f("branch_division", S, P, "division code of the branch")),
        _t("equity_pledges", "equity pledge registrations",
           _f("pledged_amount", F, P, "pledged equity, 10k CNY"),
           _f("pledgee_name", S, R, "pledgee"),
           _f("release_date", D, P, "date the pledge was released")),
        _t("annual_reports", "annual reports; event_date = filing date",
           _f("report_year", N, P, "financial year reported"),
           _f("total_assets", F, R, "total assets, 10k CNY"),
           _f("owners_equity", F, R, "owners' equity, 10k CNY"),
           _f("revenue", F, R, "operating revenue, 10k CNY"),
           _f("total_profit", F, R, "total profit, 10k CNY"),
           _f("net_profit", F, R, "net profit, 10k CNY"),
           _f("tax_paid", F, R, "tax paid, 10k CNY"),
           _f("liabilities", F, R, "total liabilities, 10k CNY"),
           _f("guarantees_given", F, R, "external guarantees given, 10k CNY"),
           _f("employees", N, R, "employees at year end")),
        _t("abnormal_operations", "abnormal-operation list entries",
           _f("reason", S, P, "no_annual_report / unreachable_address / false_report / other"),
           _f("removal_date", D, P, "date removed from the list")),
        _t("serious_violations", "serious illegal and dishonest acts list entries",
           _f("reason", S, P, "reason for listing"),
           _f("removal_date", D, P, "date removed from the list")),
        _t("spot_checks", "random spot checks ('double random, one public')",
           _f("result", S, P, "pass / fail"),
           _f("authority", S, P, "inspecting authority")),
    )),
    CategorySpec(2, "judicial", "Judicial information", PHYS, (
        _t("judgments", "court judgments",
           _f("case_type", S, P, "civil / commercial / labour / administrative"),
           _f("role", S, P, "plaintiff / defendant"),
           _f("amount", F, P, "amount at stake, 10k CNY")),
        _t("enforcements", "enforcement cases (including terminated enforcement)",
           _f("amount", F, P, "amount to enforce, 10k CNY"),
           _f("status", S, P, "open / closed / terminated"),
           _f("closed_date", D, P, "date closed or terminated")),
        _t("dishonest_debtors", "list of dishonest judgment debtors",
           _f("amount", F, P, "unperformed amount, 10k CNY"),
           _f("removal_date", D, P, "date removed from the list")),
        _t("bankruptcies", "bankruptcy cases",
           _f("stage", S, P, "filed / accepted / reorganisation / liquidation")),
    )),
    CategorySpec(3, "tax", "Tax", CALL, (
        _t("tax_credit_grades", "annual tax credit grade; event_date = publication",
           _f("eval_year", N, P, "year evaluated"),
           _f("grade", S, R, "A / B / M / C / D")),
        _t("tax_abnormal", "abnormal taxpayer (non-filing) status",
           _f("removal_date", D, R, "date the status was lifted")),
        _t("tax_arrears", "tax arrears announcements",
           _f("tax_type", S, R, "vat / income / other"),
           _f("amount", F, R, "arrears, 10k CNY"),
           _f("cleared_date", D, R, "date the arrears were cleared")),
        _t("tax_payments", "quarterly payment statistics; event_date = filing after quarter end",
           _f("period_end", D, R, "last day of the quarter"),
           _f("vat_payable", F, R, "VAT payable, 10k CNY"),
           _f("vat_paid", F, R, "VAT paid on time, 10k CNY"),
           _f("cit_payable", F, R, "corporate income tax payable, 10k CNY"),
           _f("cit_paid", F, R, "corporate income tax paid on time, 10k CNY")),
    )),
    CategorySpec(4, "housing_fund", "Housing provident fund", CALL, (
        _t("fund_contributions", "quarterly contribution statistics",
           _f("contributors", N, R, "employees contributing"),
           _f("monthly_amount", F, R, "monthly contribution, 10k CNY"),
           _f("arrears_amount", F, R, "contributions in arrears, 10k CNY")),
    )),
    CategorySpec(5, "social_insurance", "Social insurance", CALL, (
        _t("social_insurance", "quarterly contribution statistics over the five insurances",
           _f("insured_headcount", N, R, "insured employees"),
           _f("pension_paid", F, R, "pension insurance paid, 10k CNY"),
           _f("medical_paid", F, R, "medical insurance paid, 10k CNY"),
           _f("unemployment_paid", F, R, "unemployment insurance paid, 10k CNY"),
           _f("injury_paid", F, R, "work-injury insurance paid, 10k CNY"),
           _f("maternity_paid", F, R, "maternity insurance paid, 10k CNY"),
           _f("arrears_amount", F, R, "contributions in arrears, 10k CNY")),
    )),
    CategorySpec(6, "environment", "Environmental credit", PHYS, (
        _t("environmental_ratings", "annual environmental credit rating",
           _f("eval_year", N, P, "year evaluated"),
           _f("rating", S, P, "green / blue / yellow / red / black")),
    )),
    CategorySpec(7, "customs", "Customs", PHYS, (
        _t("customs_records", "customs registration and credit level changes",
           _f("record_type", S, P, "registration / credit_change"),
           _f("credit_level", S, P, "advanced_certified / general_certified / general / "
              "dishonest")),
    )),
    CategorySpec(8, "ip", "Trademarks and patents", PHYS, (
        _t("ip_rights", "registered trademarks and granted patents",
           _f("right_type", S, P, "trademark / invention_patent / utility_model / design_patent"),
           _f("status", S, P, "valid / lapsed")),
    )),
    CategorySpec(9, "software_copyright", "Software copyrights", PHYS, (
        _t("software_copyrights", "registered software copyrights",
           _f("software_name", S, P, "name of the software")),
    )),
    CategorySpec(10, "real_estate", "Real estate", PHYS, (
        _t("real_estate", "ownership, seizure and mortgage registrations",
           _f("record_type", S, P, "ownership / seizure / mortgage"),
           _f("area_m2", F, R, "floor area, square metres"),
           _f("assessed_value", F, R, "assessed value, 10k CNY"),
           _f("end_date", D, P, "date the ownership, seizure or mortgage ended")),
    )),
    CategorySpec(11, "administrative", "Administrative management", PHYS, (
        _t("admin_actions", "licences, penalties, coercive measures, rewards, inspections, "
           "confirmations and rulings",
           _f("action_type", S, P, "licence / penalty / coercive_measure / reward / inspection "
              "/ confirmation / ruling"),
           _f("fine_amount", F, P, "fine or confiscation, 10k CNY (penalties)"),
           _f("result", S, P, "pass / fail (inspections)"),
           _f("authority", S, P, "acting authority")),
    )),
    CategorySpec(12, "utilities", "Utilities", CALL, (
        _t("utility_payments", "quarterly water, electricity and gas billing",
           _f("electricity_billed", F, R, "electricity billed, 10k CNY"),
           _f("electricity_paid", F, R, "electricity paid on time, 10k CNY"),
           _f("water_billed", F, R, "water billed, 10k CNY"),
           _f("water_paid", F, R, "water paid on time, 10k CNY"),
           _f("gas_billed", F, R, "gas billed, 10k CNY"),
           _f("gas_paid", F, R, "gas paid on time, 10k CNY")),
    )),
    CategorySpec(13, "technology", "Technology and R&D", PHYS, (
        _t("tech_records", "high-tech certificates, tech-SME registrations, research support",
           _f("record_type", S, P, "high_tech_certificate / tech_sme / research_grant"),
           _f("amount", F, P, "research support, 10k CNY"),
           _f("expiry_date", D, P, "certificate expiry")),
    )),
    CategorySpec(14, "agriculture", "New agricultural business entities", PHYS, (
        _t("agri_entities", "recognised new agricultural business entities",
           _f("entity_type", S, P, "farmers_cooperative / family_farm / leading_enterprise"),
           _f("level", S, P, "national / provincial / municipal")),
    )),
    CategorySpec(15, "public_resources", "Public resource trading", PHYS, (
        _t("public_trading", "tenders won and government procurement contracts",
           _f("record_type", S, P, "tender_won / government_procurement"),
           _f("amount", F, P, "contract amount, 10k CNY"),
           _f("buyer", S, P, "purchasing entity")),
    )),
)  # fmt: skip

CATEGORY_BY_KEY: dict[str, CategorySpec] = {c.key: c for c in CATEGORIES}
TABLES: dict[str, TableSpec] = {t.name: t for c in CATEGORIES for t in c.tables}
CATEGORY_OF_TABLE: dict[str, str] = {t.name: c.key for c in CATEGORIES for t in c.tables}


def category(key: str) -> CategorySpec:
    try:
        return CATEGORY_BY_KEY[key]
    except KeyError:
        raise InvalidArgument("unknown catalogue category") from None


def table(name: str) -> TableSpec:
    try:
        return TABLES[name]
    except KeyError:
        raise InvalidArgument("unknown catalogue table") from None


def interface_call_tables() -> list[str]:
    return [t.name for c in CATEGORIES if c.sharing is CALL for t in c.tables]


def physical_tables() -> list[str]:
    return [t.name for c in CATEGORIES if c.sharing is PHYS for t in c.tables]
