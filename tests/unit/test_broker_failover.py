"""Broker URL lists and the failover order between the nodes of a clustered broker."""

from __future__ import annotations

import pytest

from devices.mqtt import BrokerAddress, BrokerList, BrokerUrlError, Failover

THREE = "mqtt://n1:1883,mqtt://n2:1883,mqtts://n3:8883"


def test_a_list_keeps_its_order_and_says_itself_back() -> None:
    brokers = BrokerList.parse(THREE)
    assert [n.host for n in brokers.nodes] == ["n1", "n2", "n3"]
    assert brokers.nodes[2].tls
    assert brokers.url == THREE
    assert BrokerList.parse(brokers.url) == brokers


@pytest.mark.parametrize(
    ("urls", "says"),
    [
        ("", "at least one"),
        (" , ", "at least one"),
        ("mqtt://n1:1883,ftp://n2", "ftp://n2"),
        ("mqtt://n1:1883,mqtt://n1:1883", "twice"),
        ("mqtt://n1:99999", "n1:99999"),
    ],
)
def test_a_bad_list_is_refused_naming_the_problem(urls: str, says: str) -> None:
    with pytest.raises(BrokerUrlError, match=says):
        BrokerList.parse(urls)


def test_one_address_is_a_list_of_one() -> None:
    one = BrokerAddress("127.0.0.1", 1883)
    assert BrokerList.of(one).nodes == (one,)
    listed = BrokerList.parse(THREE)
    assert BrokerList.of(listed) is listed


def test_a_lost_node_moves_to_the_next_at_once_and_backs_off_only_after_a_round() -> None:
    failover = Failover(BrokerList.parse(THREE), first_delay_s=0.1, max_delay_s=1.0)
    assert failover.current.host == "n1"
    steps = [(failover.failed(), failover.current.host) for _ in range(9)]
    assert steps == [
        (0.1, "n2"), (0.1, "n3"), (0.1, "n1"),  # first round: the next node at once
        (0.2, "n2"), (0.2, "n3"), (0.2, "n1"),  # every node failed: back off
        (0.4, "n2"), (0.4, "n3"), (0.4, "n1"),
    ]  # fmt: skip


def test_an_accepted_connection_starts_the_backoff_over_on_the_node_it_has() -> None:
    failover = Failover(BrokerList.parse(THREE), first_delay_s=0.1, max_delay_s=1.0)
    for _ in range(7):
        failover.failed()
    assert failover.current.host == "n2"
    failover.connected()
    assert failover.current.host == "n2"  # no reason to leave a node that works
    assert (failover.failed(), failover.current.host) == (0.1, "n3")


def test_one_broker_is_plain_capped_exponential_backoff() -> None:
    failover = Failover(BrokerAddress("b", 1883), first_delay_s=0.1, max_delay_s=1.0)
    assert [failover.failed() for _ in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert failover.current.host == "b"


def test_clients_spread_over_the_nodes_by_their_id() -> None:
    brokers = BrokerList.parse(THREE)
    first = {
        Failover(brokers, first_delay_s=0.1, max_delay_s=1, spread_by=f"site-d{i}").current.host
        for i in range(30)
    }
    assert first == {"n1", "n2", "n3"}
    again = Failover(brokers, first_delay_s=0.1, max_delay_s=1, spread_by="site-d7").current
    assert again == Failover(brokers, first_delay_s=0.1, max_delay_s=1, spread_by="site-d7").current
