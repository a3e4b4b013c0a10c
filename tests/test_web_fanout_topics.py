"""Topics: which topics a series' state reaches, which live hashes a snapshot reads, and bad topics named."""

from __future__ import annotations

import pytest

from situationroom.catalog import Catalog
from situationroom.web.fanout.topics import TopicError, TopicRouter

NAM_GU, BUK_GU, YEONIL = "47111", "47113", "4711125300"


@pytest.fixture
def router(mini_catalog: Catalog) -> TopicRouter:
    return TopicRouter(mini_catalog)


def test_a_series_reaches_its_indicator_domain_and_every_district_above_it(router: TopicRouter) -> None:
    # A station lies in an eup (its district), which lies in a gu.
    assert router.of_state("river.level", "hyeongsan") == {
        "all", "indicator:river.level", "domain:disaster", f"district:{YEONIL}", f"district:{NAM_GU}"}
    # A gu is its own district; a dong is in itself and its gu; the city is in no district.
    assert router.of_state("economy.spending", NAM_GU) >= {f"district:{NAM_GU}"}
    assert f"district:{BUK_GU}" not in router.of_state("economy.spending", NAM_GU)
    assert router.of_state("economy.spending", YEONIL) >= {f"district:{YEONIL}", f"district:{NAM_GU}"}
    assert router.of_state("weather.visibility", "pohang") == {"all", "indicator:weather.visibility",
                                                               "domain:weather"}


def test_snapshot_reads_only_the_indicators_a_subscription_can_reach(router: TopicRouter) -> None:
    assert set(router.indicators_for(frozenset({"domain:weather"}))) == {"weather.visibility"}
    assert set(router.indicators_for(frozenset({f"district:{YEONIL}"}))) == {"air.pm10", "river.level",
                                                                            "economy.spending"}
    assert router.indicators_for(frozenset({"messages", "alerts"})) == []
    assert len(router.indicators_for(frozenset({"all"}))) == 4


@pytest.mark.parametrize(("given", "field", "words"), [
    (["all", "indicator:nope"], "topics[1]", "unknown indicator"),
    (["domain:sports"], "topics[0]", "unknown domain; domains: environment, disaster, weather"),
    (["district:1"], "topics[0]", "unknown district code"),
    (["weather:x"], "topics[0]", "unknown topic kind 'weather'"),
    (["alert"], "topics[0]", "unknown topic; topics are all, messages, alerts"),
    ([None], "topics[0]", "must be a string"),
    ("all", "topics", "must be a list"),
    ([], "topics", "must not be empty"),
    (["all"] * 1001, "topics", "at most 1000"),
])
def test_bad_topics_are_named_by_position(router: TopicRouter, given: object, field: str, words: str) -> None:
    with pytest.raises(TopicError) as err:
        router.parse(given)
    assert err.value.field == field and words in err.value.message


def test_good_topics_are_a_set(router: TopicRouter) -> None:
    assert router.parse(["alerts", "messages", "all", "all"]) == {"all", "messages", "alerts"}
    assert router.parse([f"district:{NAM_GU}", "indicator:air.pm10"]) == {f"district:{NAM_GU}", "indicator:air.pm10"}
