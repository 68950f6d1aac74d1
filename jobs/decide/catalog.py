"""The offer catalog and the decision policy: reviewed data in schemas/decisioning/, loaded and checked here.

Both files carry a declared version; the version recorded with each decision is that version plus the
first 8 hex digits of the file's SHA-256 (`2026.11.0+1a2b3c4d`), so an edit that forgets to bump the
declared version still shows up in the decision log. A file that breaks the rules below is refused with
an error that names the entry and the field.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from jobs.domain import CHANNELS, CREDIT_PRODUCTS, PRODUCTS, VALUE_KINDS
from jobs.resources import resource_dir

DECISIONING = resource_dir("schemas") / "decisioning"  # packaged copy when installed (jobs/resources.py)
PRICE_KINDS = ("deposit_rate", "loan_apr", "credit_limit")
RULE_TYPES = ("eligibility", "consent", "suitability", "contact")
CONTACT_KINDS = ("channel_cap", "fatigue_cap", "cooldown")
# The most a policy file may explore: a bank shows the offer its models rank best to at least 80% of slots.
MAX_EXPLORATION_SHARE = 0.2


@dataclass(frozen=True)
class Offer:
    offer_id: str
    product: str
    name: str
    value_kind: str
    value_amount: float
    value_income_rate: float
    lever: float
    channels: tuple[str, ...]
    valid_from: dt.date
    valid_to: dt.date
    validity_days: int
    price_kind: str | None
    price_unit: str | None
    price_min: float | None
    price_max: float | None
    headline: str
    body: str
    disclosure: str
    image: str


@dataclass(frozen=True)
class Catalog:
    version: str
    offers: tuple[Offer, ...]

    def offer(self, offer_id: str) -> Offer:
        for o in self.offers:
            if o.offer_id == offer_id:
                return o
        raise KeyError(f"no offer {offer_id!r} in catalog {self.version}; offers: "
                       f"{', '.join(o.offer_id for o in self.offers)}")


@dataclass(frozen=True)
class Rule:
    rule_id: str
    rule_type: str
    description: str
    exclude_when: str | None = None     # eligibility, consent, suitability: a Spark SQL condition
    kind: str | None = None             # contact: channel_cap | fatigue_cap | cooldown
    limit: int | None = None
    days: int | None = None


@dataclass(frozen=True)
class ProtectedAttributes:
    """Fair lending: for the products it applies to (every credit product), protected attributes are neither
    a model's features nor an offer's reasons, unless `allow` names the attribute for the product.

    attributes: attribute -> the customer-360 columns that carry it, including columns derived from it
    (age -> age, age_band); applies_to: products; allow: product -> attributes let back in for it.
    """
    attributes: dict[str, tuple[str, ...]]
    applies_to: tuple[str, ...]
    allow: dict[str, tuple[str, ...]]

    def blocked(self, product: str) -> dict[str, tuple[str, ...]]:
        """The attributes (with their columns) a model or a reason for `product` may not use; {} when none."""
        if product not in self.applies_to:
            return {}
        allowed = self.allow.get(product, ())
        return {a: columns for a, columns in self.attributes.items() if a not in allowed}

    def blocked_columns(self, product: str) -> frozenset[str]:
        return frozenset(c for columns in self.blocked(product).values() for c in columns)

    def attribute_of(self, column: str) -> str | None:
        return next((a for a, columns in self.attributes.items() if column in columns), None)


NO_PROTECTION = ProtectedAttributes({}, (), {})


@dataclass(frozen=True)
class Learning:
    """The adaptive response model's settings (jobs/decide/learn.py): whether arbitration uses what it learned,
    how many expected acceptances of evidence its prior weighs (prior_strength), and which decisions it learns
    from: those `maturity_days` to `window_days` old (younger ones may still be answered), and how optimistic the
    ranking is about an offer with little evidence (`optimism`, in posterior standard deviations)."""
    enabled: bool = False
    prior_strength: float = 5.0
    window_days: int = 90
    maturity_days: int = 10
    optimism: float = 0.0   # posterior standard deviations added to an offer's relative factor when ranking


NO_LEARNING = Learning()


@dataclass(frozen=True)
class Policy:
    version: str
    holdout_share: float
    offers_per_channel: int
    use_propensity: bool
    use_value: bool
    use_lever: bool
    fairness_dimensions: tuple[str, ...]
    fairness_min_ratio: float
    fairness_min_group: int
    fairness_window_days: int
    rules: tuple[Rule, ...]
    protected: ProtectedAttributes = NO_PROTECTION
    exploration_share: float = 0.0             # share of slots that show a drawn offer (jobs/decide/explore.py)
    exploration_seed: str = "explore"          # salt of the draws: a new seed, new draws
    no_explore: tuple[str, ...] = CREDIT_PRODUCTS   # products never offered by chance
    exploration_temperature: float | None = None   # softmax over expected value; None: uniform draws
    learning: Learning = NO_LEARNING                # the adaptive response model (jobs/decide/learn.py)

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.rule_id == rule_id:
                return r
        raise KeyError(f"no rule {rule_id!r} in policy {self.version}")

    def contact(self, kind: str) -> Rule | None:
        found = [r for r in self.rules if r.rule_type == "contact" and r.kind == kind]
        return found[0] if found else None

    def filters(self) -> tuple[Rule, ...]:
        """The rules that are conditions on a candidate (everything but the contact limits)."""
        return tuple(r for r in self.rules if r.exclude_when is not None)


class CatalogError(ValueError):
    pass


def _version(path: Path, declared) -> str:
    if not isinstance(declared, str) or not declared:
        raise CatalogError(f"{path}: 'version' must be a non-empty string")
    return f"{declared}+{hashlib.sha256(path.read_bytes()).hexdigest()[:8]}"


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise CatalogError(f"{path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise CatalogError(f"{path} is not valid JSON: {exc}") from None


def _need(entry: dict, key: str, where: str, kind=str):
    if key not in entry:
        raise CatalogError(f"{where}: '{key}' is missing")
    value = entry[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind):
        raise CatalogError(f"{where}: '{key}' must be {kind.__name__}, got {value!r}")
    return value


def _offer(entry: dict, where: str) -> Offer:
    offer_id = _need(entry, "offer_id", where)
    where = f"{where} ({offer_id})"
    product = _need(entry, "product", where)
    if product not in PRODUCTS:
        raise CatalogError(f"{where}: product {product!r} is not one of {', '.join(PRODUCTS)}")
    value = _need(entry, "value_model", where, dict)
    value_kind = _need(value, "kind", f"{where} value_model")
    if value_kind not in VALUE_KINDS:
        raise CatalogError(f"{where}: value_model kind {value_kind!r} is not one of {', '.join(VALUE_KINDS)}")
    amount = _need(value, "amount", f"{where} value_model", float)
    income_rate = float(value.get("income_rate", 0.0)) if value_kind == "income_linked" else 0.0
    if amount < 0 or income_rate < 0:
        raise CatalogError(f"{where}: value_model amounts must not be negative")
    channels = tuple(_need(entry, "channels", where, list))
    bad = [c for c in channels if c not in CHANNELS]
    if not channels or bad:
        raise CatalogError(f"{where}: channels must be a non-empty subset of {', '.join(CHANNELS)}; got {channels}")
    try:
        valid_from = dt.date.fromisoformat(_need(entry, "valid_from", where))
        valid_to = dt.date.fromisoformat(_need(entry, "valid_to", where))
    except ValueError as exc:
        raise CatalogError(f"{where}: valid_from/valid_to must be yyyy-mm-dd dates ({exc})") from None
    if valid_to < valid_from:
        raise CatalogError(f"{where}: valid_to {valid_to} is before valid_from {valid_from}")
    validity_days = _need(entry, "validity_days", where, int)
    if validity_days < 1:
        raise CatalogError(f"{where}: validity_days must be at least 1")
    lever = _need(entry, "lever", where, float)
    if lever < 0:
        raise CatalogError(f"{where}: lever must not be negative")
    price = entry.get("price")
    price_kind = price_unit = price_min = price_max = None
    if price is not None:
        price_kind = _need(price, "kind", f"{where} price")
        if price_kind not in PRICE_KINDS:
            raise CatalogError(f"{where}: price kind {price_kind!r} is not one of {', '.join(PRICE_KINDS)}")
        price_unit = _need(price, "unit", f"{where} price")
        price_min = _need(price, "min", f"{where} price", float)
        price_max = _need(price, "max", f"{where} price", float)
        if not 0 <= price_min <= price_max:
            raise CatalogError(f"{where}: price bounds must satisfy 0 <= min <= max, got {price_min}..{price_max}")
    content = _need(entry, "content", where, dict)
    blocks = {k: _need(content, k, f"{where} content") for k in ("headline", "body", "disclosure", "image")}
    if not blocks["disclosure"].strip():
        raise CatalogError(f"{where}: the legal disclosure must not be empty")
    if ("{price}" in blocks["body"]) != (price is not None):
        raise CatalogError(f"{where}: the body must hold a {{price}} placeholder exactly when the offer is priced")
    return Offer(offer_id, product, _need(entry, "name", where), value_kind, amount, income_rate, lever, channels,
                 valid_from, valid_to, validity_days, price_kind, price_unit, price_min, price_max, **blocks)


def load_catalog(path: Path | None = None) -> Catalog:
    path = Path(path or DECISIONING / "catalog.json")
    raw = _read(path)
    entries = _need(raw, "offers", str(path), list)
    offers = tuple(_offer(e, f"{path}: offers[{i}]") for i, e in enumerate(entries))
    ids = [o.offer_id for o in offers]
    if len(set(ids)) != len(ids) or not ids:
        raise CatalogError(f"{path}: offer ids must be present and unique, got {ids}")
    return Catalog(_version(path, raw.get("version")), offers)


def _rule(entry: dict, where: str) -> Rule:
    rule_id = _need(entry, "id", where)
    where = f"{where} ({rule_id})"
    rule_type = _need(entry, "type", where)
    if rule_type not in RULE_TYPES:
        raise CatalogError(f"{where}: type {rule_type!r} is not one of {', '.join(RULE_TYPES)}")
    description = _need(entry, "description", where)
    if rule_type != "contact":
        return Rule(rule_id, rule_type, description, exclude_when=_need(entry, "exclude_when", where))
    kind = _need(entry, "kind", where)
    if kind not in CONTACT_KINDS:
        raise CatalogError(f"{where}: contact kind {kind!r} is not one of {', '.join(CONTACT_KINDS)}")
    days = _need(entry, "days", where, int)
    limit = None if kind == "cooldown" else _need(entry, "limit", where, int)
    if days < 1 or (limit is not None and limit < 0):
        raise CatalogError(f"{where}: days must be at least 1 and limit not negative")
    return Rule(rule_id, rule_type, description, kind=kind, limit=limit, days=days)


def _names(value, where: str, what: str) -> tuple[str, ...]:
    """A non-empty list of distinct non-empty strings, as a tuple."""
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise CatalogError(f"{where}: must be a non-empty list of {what}, got {value!r}")
    if len(set(value)) != len(value):
        raise CatalogError(f"{where}: lists a {what[:-1]} more than once: {value!r}")
    return tuple(value)


def _protected(raw: dict, path: Path) -> ProtectedAttributes:
    """The protected-attribute rule; credit products are always covered (an exception is an explicit `allow`)."""
    where = f"{path}: protected_attributes"
    entry = _need(raw, "protected_attributes", str(path), dict)
    attributes = _need(entry, "attributes", where, dict)
    if not attributes:
        raise CatalogError(f"{where}: 'attributes' must name at least one attribute and its columns")
    columns = {a: _names(c, f"{where} attributes.{a}", "column names") for a, c in attributes.items()}
    listed = [c for cs in columns.values() for c in cs]
    twice = sorted({c for c in listed if listed.count(c) > 1})
    if twice:
        raise CatalogError(f"{where}: column(s) {', '.join(twice)} listed under more than one attribute")
    applies_to = _names(_need(entry, "applies_to", where, list), f"{where} applies_to", "products")
    unknown = [p for p in applies_to if p not in PRODUCTS]
    if unknown:
        raise CatalogError(f"{where}: applies_to names {', '.join(unknown)}, not products "
                           f"({', '.join(PRODUCTS)})")
    uncovered = [p for p in CREDIT_PRODUCTS if p not in applies_to]
    if uncovered:
        raise CatalogError(f"{where}: applies_to must cover every credit product; {', '.join(uncovered)} missing "
                           "(to let an attribute back in for one product, name it under 'allow')")
    allow = {}
    for product, allowed in _need(entry, "allow", where, dict).items():
        if product not in applies_to:
            raise CatalogError(f"{where}: allow names {product!r}, a product the rule does not apply to "
                               f"(applies_to: {', '.join(applies_to)})")
        allow[product] = _names(allowed, f"{where} allow.{product}", "attributes")
        unknown = [a for a in allow[product] if a not in columns]
        if unknown:
            raise CatalogError(f"{where}: allow.{product} names {', '.join(unknown)}, not a protected attribute "
                               f"({', '.join(columns)})")
    return ProtectedAttributes(columns, applies_to, allow)


def _exploration(raw: dict, path: Path, offers_per_channel: int) -> dict:
    """The optional `exploration` block: share (0..MAX_EXPLORATION_SHARE), seed, no_explore products (every
    credit product must be there: credit is offered on the models' evidence, never by chance)."""
    entry = raw.get("exploration")
    if entry is None:
        return {}
    where = f"{path}: exploration"
    if not isinstance(entry, dict):
        raise CatalogError(f"{where}: must be an object with share, seed and no_explore")
    share = _need(entry, "share", where, float)
    if not 0 <= share <= MAX_EXPLORATION_SHARE:
        raise CatalogError(f"{where}: share must be in [0, {MAX_EXPLORATION_SHARE}], got {share}")
    if share > 0 and offers_per_channel != 1:
        raise CatalogError(f"{where}: exploring needs offers_per_channel 1 (the logged propensities are exact for "
                           f"one offer per channel), got {offers_per_channel}")
    no_explore = _names(_need(entry, "no_explore", where, list), f"{where} no_explore", "products")
    unknown = [p for p in no_explore if p not in PRODUCTS]
    uncovered = [p for p in CREDIT_PRODUCTS if p not in no_explore]
    if unknown or uncovered:
        raise CatalogError(f"{where}: no_explore must be products and cover every credit product; "
                           f"unknown {unknown}, missing {uncovered}")
    temperature = entry.get("temperature")
    if temperature is not None:
        temperature = _need(entry, "temperature", where, float)
        if temperature <= 0:
            raise CatalogError(f"{where}: temperature must be above 0 (leave it out for uniform draws), "
                               f"got {temperature}")
    return {"exploration_share": share, "exploration_seed": _need(entry, "seed", where), "no_explore": no_explore,
            "exploration_temperature": temperature}


def _learning(raw: dict, path: Path) -> dict:
    """The optional `learning` block: enabled, prior_strength (> 0), window_days > maturity_days >= 0."""
    entry = raw.get("learning")
    if entry is None:
        return {}
    where = f"{path}: learning"
    if not isinstance(entry, dict):
        raise CatalogError(f"{where}: must be an object with enabled, prior_strength, window_days, maturity_days")
    learning = Learning(bool(_need(entry, "enabled", where, bool)), _need(entry, "prior_strength", where, float),
                        _need(entry, "window_days", where, int), _need(entry, "maturity_days", where, int),
                        _need(entry, "optimism", where, float) if "optimism" in entry else 0.0)
    if learning.optimism < 0:
        raise CatalogError(f"{where}: optimism must be 0 or more, got {learning.optimism}")
    if learning.prior_strength <= 0:
        raise CatalogError(f"{where}: prior_strength must be above 0, got {learning.prior_strength}")
    if not 0 <= learning.maturity_days < learning.window_days:
        raise CatalogError(f"{where}: need 0 <= maturity_days < window_days, got {learning.maturity_days} and "
                           f"{learning.window_days}")
    return {"learning": learning}


def load_policy(path: Path | None = None) -> Policy:
    path = Path(path or DECISIONING / "policy.json")
    raw = _read(path)
    rules = tuple(_rule(e, f"{path}: rules[{i}]") for i, e in enumerate(_need(raw, "rules", str(path), list)))
    ids = [r.rule_id for r in rules]
    if len(set(ids)) != len(ids):
        raise CatalogError(f"{path}: rule ids must be unique, got {ids}")
    kinds = [r.kind for r in rules if r.kind]
    if len(set(kinds)) != len(kinds):
        raise CatalogError(f"{path}: at most one contact rule of each kind, got {kinds}")
    share = _need(raw, "holdout_share", str(path), float)
    if not 0 <= share < 1:
        raise CatalogError(f"{path}: holdout_share must be in [0, 1), got {share}")
    arbitration = _need(raw, "arbitration", str(path), dict)
    per_channel = _need(arbitration, "offers_per_channel", f"{path} arbitration", int)
    if per_channel < 1:
        raise CatalogError(f"{path}: offers_per_channel must be at least 1")
    fairness = _need(raw, "fairness", str(path), dict)
    min_ratio = _need(fairness, "min_ratio", f"{path} fairness", float)
    return Policy(_version(path, raw.get("version")), share, per_channel,
                  *(bool(_need(arbitration, k, f"{path} arbitration", bool))
                    for k in ("use_propensity", "use_value", "use_lever")),
                  tuple(_need(fairness, "dimensions", f"{path} fairness", list)), min_ratio,
                  _need(fairness, "min_group_size", f"{path} fairness", int),
                  _need(fairness, "window_days", f"{path} fairness", int), rules, _protected(raw, path),
                  **_exploration(raw, path, per_channel), **_learning(raw, path))


def catalog_rows(catalog: Catalog) -> list[dict]:
    """One row per offer for gold.offer_catalog (the catalog as the lakehouse keeps it, by version)."""
    return [{"catalog_version": catalog.version, **{k: (list(v) if isinstance(v, tuple) else v)
                                                    for k, v in o.__dict__.items()}} for o in catalog.offers]


def policy_rows(policy: Policy) -> list[dict]:
    """One row per rule for gold.decision_policy."""
    return [{"policy_version": policy.version, "rule_id": r.rule_id, "rule_type": r.rule_type,
             "description": r.description, "exclude_when": r.exclude_when, "kind": r.kind,
             "limit": r.limit, "days": r.days} for r in policy.rules]
