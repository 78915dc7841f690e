"""The doelbinding engine: is a query allowed under the caller's gegevenssets, and what to send.

This module owns the decision, made before any upstream call, and the query that results from it.
It is pure: no I/O, no HTTP, no clock, no global state. Build a `DoelbindingPolicy` once per
combination of gegevenssets (tenancy does so when it loads its configuration) and call it per
request; the free functions `authorise` and `withhold_secret_persons` compile a policy per call,
for tests and one-offs.

How sets combine. A gegevensset describes one purpose (doel), so a query is allowed when at least
one set allows *all* of it — the caller may do what any one of its sets allows (the union of the
sets' allowed queries). Permissions are not mixed across sets: a field one set allows never rides
along on a query type or a gemeente only another set allows, so no combination of sets grants
more than one of them does. The restrictions of a set bind what that set allows:
- "own residents only" (gemeente G, `app.policy.residents`): a Personen query is judged with
  gemeenteVanInschrijving = G (injected when absent; any other value refused); a Bewoning query
  only for an object in G; Verblijfplaatshistorie never (it cannot be confined);
- geheimhouding "withhold": secret persons are left out unless a set that delivers them allows
  the query too.

Decision (deterministic; every refused parameter or field is named at once, sorted):
1. No set allows the API → `unauthorized` (API named); none of those allows the query type →
   `unauthorized` (type named). No sets at all → the API is refused (deny by default).
2. A set allows the query as it is (unrestricted, or already confined to the set's gemeente) →
   the query, unchanged. So an unrestricted set that allows it means no injection.
3. Sets for own residents allow it once gemeenteVanInschrijving is set: all for one gemeente →
   the query with it injected; for several → `unauthorizedParameter` asking the caller to name
   one (the broker does not guess).
4. Otherwise the refusal of the set that comes closest (fewest refused names; the first such set
   in the given order): `unauthorizedParameter` (incl. `inclusiefOverledenPersonen` and a foreign
   gemeenteVanInschrijving) before `unauthorizedField`; Bewoning outside the own gemeente and
   Verblijfplaatshistorie under own residents only → `unauthorized`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from app.brp.fields import FieldsCatalogue, fields_catalogue
from app.brp.problems import ProblemError
from app.brp.queries import BewoningQuery, PersonenQuery, Query, VerblijfplaatshistorieQuery, api_of
from app.policy.gegevensset import Gegevensset
from app.policy.geheimhouding import without_secret_persons
from app.policy.grants import GEMEENTE_PARAMETER, FieldIndex, Grant, QueryFacts
from app.policy.refusals import (
    ambiguous_gemeente_refused,
    api_refused,
    fields_refused,
    foreign_object_refused,
    historie_not_confinable,
    parameters_refused,
    query_type_refused,
)
from app.policy.residents import confine, lies_in

__all__ = ["DoelbindingPolicy", "authorise", "withhold_secret_persons"]


class _Allowed(NamedTuple):
    """A set allows the query: send `query` (with `injected` as gemeenteVanInschrijving, if set)."""

    query: Query
    injected: str | None = None


class _Refused(NamedTuple):
    """A set refuses the query: `problem`, and `weight` = how many names it refuses."""

    problem: ProblemError
    weight: int = 1


_Verdict = _Allowed | _Refused


class _CompiledSet:
    """One gegevensset, compiled: its grant and its restrictions."""

    __slots__ = ("bag_codes", "delivers_secret", "gemeente", "grant")

    def __init__(self, gegevensset: Gegevensset, index: FieldIndex) -> None:
        self.grant = Grant(gegevensset, index)
        self.gemeente = gegevensset.own_residents_gemeente
        self.bag_codes = frozenset(
            (*gegevensset.own_residents_former_gemeenten, self.gemeente) if self.gemeente else ()
        )
        self.delivers_secret = gegevensset.geheimhouding == "deliver"

    def judge(self, query: Query, facts: QueryFacts) -> _Verdict:
        """This set's verdict on a query whose API and type it allows."""
        if self.gemeente is None:
            return self._judge_as_is(query, facts)
        if isinstance(query, VerblijfplaatshistorieQuery):
            return _Refused(historie_not_confinable())
        if isinstance(query, BewoningQuery):
            inside = lies_in(query, self.bag_codes)
            return self._judge_as_is(query, facts) if inside else _Refused(foreign_object_refused())
        return self._judge_personen(query, facts, self.gemeente)

    def _judge_personen(self, query: PersonenQuery, facts: QueryFacts, gemeente: str) -> _Verdict:
        if facts.gemeente is None:
            verdict = self._judge_as_is(confine(query, gemeente), facts.with_gemeente(gemeente))
            return verdict._replace(injected=gemeente) if isinstance(verdict, _Allowed) else verdict
        foreign = frozenset() if facts.gemeente == gemeente else frozenset({GEMEENTE_PARAMETER})
        return self._judge_as_is(query, facts, foreign)

    def _judge_as_is(self, query: Query, facts: QueryFacts, refuse: frozenset[str] = frozenset()) -> _Verdict:
        parameters = self.grant.refused_parameters(facts, self.gemeente) | refuse
        fields = self.grant.refused_fields(facts)
        if parameters:
            return _Refused(parameters_refused(parameters), len(parameters) + len(fields))
        if fields:
            return _Refused(fields_refused(fields), len(fields))
        return _Allowed(query)


class DoelbindingPolicy:
    """The compiled doelbinding of one combination of gegevenssets; immutable, safe to share.

    `index`: one `FieldIndex(fields_catalogue())` shared by every policy of the process saves
    compiling the catalogue per policy; without it the policy builds its own from `catalogue`.
    """

    __slots__ = ("_gegevenssets", "_sets")

    def __init__(
        self,
        gegevenssets: Iterable[Gegevensset],
        *,
        catalogue: FieldsCatalogue | None = None,
        index: FieldIndex | None = None,
    ) -> None:
        if index is None:
            index = FieldIndex(catalogue if catalogue is not None else fields_catalogue())
        self._gegevenssets = tuple(gegevenssets)
        self._sets = tuple(_CompiledSet(g, index) for g in self._gegevenssets)

    @property
    def gegevenssets(self) -> tuple[Gegevensset, ...]:
        """The gegevenssets this policy was built from, in the given order."""
        return self._gegevenssets

    def authorise(self, query: Query) -> Query:
        """The query to send upstream (gemeenteVanInschrijving injected where the rule says so).

        Raises `ProblemError` 403 with RvIG's code naming what is refused (module docstring).
        """
        facts = QueryFacts.of(query)
        candidates = self._candidates(facts)
        if not candidates:
            raise self._type_or_api_refused(facts)
        verdicts: list[_Verdict] = []
        for compiled in candidates:
            verdict = compiled.judge(query, facts)
            if _allows_as_is(verdict):
                return query
            verdicts.append(verdict)
        return _conclude(verdicts)

    def delivers_secret_persons(self, query: Query) -> bool:
        """True if persons with geheimhoudingPersoonsgegevens may be delivered for this sent query.

        That is when a set that delivers them allows the query as it was sent.
        """
        facts = QueryFacts.of(query)
        return any(
            compiled.delivers_secret and _allows_as_is(compiled.judge(query, facts))
            for compiled in self._candidates(facts)
        )

    def withhold_secret_persons(self, query: Query, response: Mapping[str, Any]) -> Mapping[str, Any]:
        """The answer to the sent `query` without secret persons, unless they may be delivered."""
        if self.delivers_secret_persons(query):
            return response
        return without_secret_persons(api_of(query), response)

    def _candidates(self, facts: QueryFacts) -> list[_CompiledSet]:
        return [compiled for compiled in self._sets if compiled.grant.allows_type(facts)]

    def _type_or_api_refused(self, facts: QueryFacts) -> ProblemError:
        if any(compiled.grant.allows_api(facts.api) for compiled in self._sets):
            return query_type_refused(facts.query_type)
        return api_refused(facts.api)


def _allows_as_is(verdict: _Verdict) -> bool:
    return isinstance(verdict, _Allowed) and verdict.injected is None


def _conclude(verdicts: list[_Verdict]) -> Query:
    # No set allows the query as it is: inject a gemeente when that decides it, else refuse.
    injected = [v for v in verdicts if isinstance(v, _Allowed)]
    gemeenten = sorted({v.injected for v in injected if v.injected is not None})
    if len(gemeenten) > 1:
        raise ambiguous_gemeente_refused(gemeenten)
    if injected:
        return injected[0].query
    refusals = [v for v in verdicts if isinstance(v, _Refused)]
    raise min(refusals, key=lambda v: v.weight).problem


def authorise(gegevenssets: Sequence[Gegevensset], query: Query) -> Query:
    """The query to send under the caller's `gegevenssets`, or `ProblemError` 403 (compiles per call)."""
    return DoelbindingPolicy(gegevenssets).authorise(query)


def withhold_secret_persons(
    gegevenssets: Sequence[Gegevensset], query: Query, response: Mapping[str, Any]
) -> Mapping[str, Any]:
    """The answer without persons marked geheimhoudingPersoonsgegevens, unless they may be delivered.

    `query` is the query as sent (what `authorise` returned). Compiles per call.
    """
    return DoelbindingPolicy(gegevenssets).withhold_secret_persons(query, response)
