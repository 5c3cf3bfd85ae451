"""A hub restart in the middle of an escalation: the new Router reads each open
alert's routing log from the store the old one wrote, and carries on at the step
it had reached, without telling everyone again."""

from __future__ import annotations

from routing_env import Env, FakeChannel, env

from hub.alerts import Command
from hub.channels.base import MessageKind
from hub.channels.router import Router
from hub.routing.log import RoutingKind
from hub.service import Hub

__all__ = ["env"]


async def restart(env: Env) -> tuple[Hub, Router, FakeChannel, FakeChannel]:
    await env.router.drain()
    await env.hub.drain()
    hub = Hub(env.store, clock=env.clock)
    await hub.start()
    mqtt, webhook = FakeChannel("mqtt"), FakeChannel("webhook")
    router = Router(hub, [mqtt, webhook], clock=env.clock)
    await router.start()
    hub.add_notifier(router)
    return hub, router, mqtt, webhook


async def settle(hub: Hub, router: Router) -> None:
    for _ in range(5):
        await hub.drain()
        await router.drain()


async def test_the_escalation_goes_on_from_the_stored_step(env: Env) -> None:
    await env.send("fall.detected", "fall-1")
    alert_id = env.open_alert()
    await env.advance(61)  # kari did not answer: step 1, the unit (kari, ola)
    env.router.receipt("site-1", "ola", alert_id, "reject")  # ola is busy: step 2, the site
    await env.settle()
    before = env.router.escalation(alert_id)
    assert before is not None and before.step == 2 and before.rejected == {"ola"}

    hub, router, mqtt, webhook = await restart(env)
    await env.advance(1)  # the old router is gone; only the new one may act
    router.tick()
    await settle(hub, router)
    after = router.escalation(alert_id)
    assert after is not None
    assert (after.step, after.step_started, after.rejected) == (2, before.step_started, {"ola"})
    assert mqtt.sent == [] and webhook.sent == []  # nobody was told again
    kinds = [x.kind for x in env.store.routing_log(alert_id)]
    assert kinds[-1] is RoutingKind.RESUMED

    # The re-notify and the next step come when they were due, to the right people.
    env.clock.now = before.last_sent + before.chain.renotify
    router.tick()
    await settle(hub, router)
    assert mqtt.to() == ["kari"]  # ola rejected and stays out
    env.clock.now = before.step_started + before.current.timeout
    router.tick()
    await settle(hub, router)
    assert webhook.to() == ["response_centre"]
    # An accept through the new hub closes it and withdraws from everyone told before.
    await hub.command(alert_id, Command.ACCEPT, "kari")
    await settle(hub, router)
    assert sorted(mqtt.to(MessageKind.WITHDRAW)) == ["ola"]
    await router.drain()
    await hub.stop()


async def test_an_alert_raised_but_never_routed_starts_its_chain(env: Env) -> None:
    env.hub._notifiers.remove(env.router)  # the hub dies before routing the alert
    await env.send("fall.detected", "fall-1")
    alert_id = env.open_alert()
    assert env.store.routing_log(alert_id) == []
    hub, router, mqtt, _ = await restart(env)
    await settle(hub, router)
    assert mqtt.to() == ["kari"]
    await hub.stop()
