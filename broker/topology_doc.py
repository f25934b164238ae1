"""The generated part of docs/topology.md: a mermaid diagram and tables of the definition.

Written by `python -m broker.generated_docs`; a unit test fails when the page is stale.
"""

from __future__ import annotations

import re

from services.common import topology as t


def _id(name: str) -> str:
    return name.replace(".", "_").replace("-", "_")


def mermaid(top: t.Topology) -> list[str]:
    lines = ["```mermaid", "flowchart LR"]
    for ex in top.exchanges:
        lines.append(f'  {_id("x_" + ex.name)}{{{{"{ex.name}<br/><i>{ex.type} exchange</i>"}}}}')
    for q in top.queues:
        lines.append(f'  {_id("q_" + q.name)}[("{q.name}")]')
    for s in top.streams:
        lines.append(f'  {_id("q_" + s.name)}[["{s.name}<br/><i>stream</i>"]]')
    for b in top.bindings:
        label = b.routing_key or "(all)"
        lines.append(f'  {_id("x_" + b.exchange)} -- "{label}" --> {_id("q_" + b.queue)}')
    for q in top.queues:
        if q.dead_letter_exchange:
            lines.append(
                f"  {_id('q_' + q.name)} -. dead letters .-> {_id('x_' + q.dead_letter_exchange)}"
            )
    for ex in top.exchanges:
        if ex.alternate:
            lines.append(f"  {_id('x_' + ex.name)} -. unroutable .-> {_id('x_' + ex.alternate)}")
    lines.append("```")
    return lines


def _cell(text: str) -> str:
    return "`" + text.replace("|", "\\|") + "`" if text else ""


def tables(top: t.Topology) -> list[str]:
    return [
        f"Vhost: `{top.vhost}` · queue type: `{top.queue_type.value}`",
        "",
        *_exchanges(top),
        "",
        *_queues(top),
        "",
        *_streams(top),
        "",
        *_bindings(top),
        "",
        *_policies(top),
        "",
        *_quorum_policies(top),
        "",
        *_users(top),
    ]


def _exchanges(top: t.Topology) -> list[str]:
    out = [
        "### Exchanges",
        "",
        "| exchange | type | published to by | alternate exchange |",
        "|---|---|---|---|",
    ]
    replay = {t.REPLAY_EXCHANGE, t.REPLAY_MARKER_EXCHANGE}
    for ex in top.exchanges:
        owner = (
            ex.owner.value
            if ex.owner
            else f"the replay tool (`{t.user_name(top.vhost, t.REPLAY)}`)"
            if ex.name in replay
            else "the broker (dead letters)"
            if ex.name.endswith(".dlx")
            else "the broker (unroutable)"
        )
        out.append(f"| `{ex.name}` | {ex.type} | {owner} | {_cell(ex.alternate or '')} |")
    return out


def _streams(top: t.Topology) -> list[str]:
    out = [
        "### Event logs (streams, whatever the queue type)",
        "",
        "| stream | keeps the events of | read by |",
        "|---|---|---|",
    ]
    for s in top.streams:
        who = f"the replay tool (`{t.user_name(top.vhost, t.REPLAY)}`)"
        out.append(f"| `{s.name}` | `{s.exchange}` | {who} |")
    return out


def _queues(top: t.Topology) -> list[str]:
    out = [
        "### Queues",
        "",
        "| queue | consumed by | dead letters go to | priority lanes (docs/priorities.md) |",
        "|---|---|---|---|",
    ]
    for q in top.queues:
        owner = q.owner.value if q.owner else "people (management UI, DLQ tools)"
        dl = (
            f"`{q.dead_letter_exchange}` → `{q.dead_letter_queue}`"
            if q.dead_letter_exchange
            else "— (a sink)"
        )
        out.append(f"| `{q.name}` | {owner} | {dl} | {_lanes(top, q)} |")
    return out


def _lanes(top: t.Topology, q: t.Queue) -> str:
    if not q.prioritized:
        return "—"
    levels = top.arguments_of(q.name).get(t.MAX_PRIORITY_ARGUMENT)
    if levels is not None:
        return f"express first (`{t.MAX_PRIORITY_ARGUMENT}: {levels}`)"
    return "express first on RabbitMQ 4.0+ (none on 3.10)"


def _bindings(top: t.Topology) -> list[str]:
    out = ["### Bindings", "", "| exchange | routing key | queue |", "|---|---|---|"]
    for b in top.bindings:
        out.append(f"| `{b.exchange}` | {_cell(b.routing_key) or '(any)'} | `{b.queue}` |")
    return out


def _policies(top: t.Topology) -> list[str]:
    out = [
        "### Policies",
        "",
        "| policy | pattern | applies to | definition |",
        "|---|---|---|---|",
    ]
    for p in top.policies:
        definition = ", ".join(f"{k}=`{v}`" for k, v in p.definition.items())
        out.append(f"| `{p.name}` | {_cell(p.pattern)} | {p.apply_to} | {definition} |")
    return out


def _quorum_policies(top: t.Topology) -> list[str]:
    """The queue policies as they are when BROKER_QUEUE_TYPE=quorum (the rest is the same)."""
    quorum = t.build(top.vhost, t.QueueType.QUORUM)
    out = [
        "### Queue policies with `BROKER_QUEUE_TYPE=quorum`",
        "",
        "Every queue is a quorum queue, and the queue policies become (`delivery-limit` `-1`: no "
        "limit, left out on RabbitMQ 3, which has none by default):",
        "",
        "| policy | pattern | definition |",
        "|---|---|---|",
    ]
    streams = {s.name for s in quorum.streams}  # their policies do not change with the type
    for p in quorum.policies:
        if p.apply_to == "queues" and not any(re.fullmatch(p.pattern, n) for n in streams):
            definition = ", ".join(f"{k}=`{v}`" for k, v in p.definition.items())
            out.append(f"| `{p.name}` | {_cell(p.pattern)} | {definition} |")
    return out


def _users(top: t.Topology) -> list[str]:
    out = [
        "### Users and permissions",
        "",
        "| user | tags | configure | write | read | topic (exchange: write / read keys) |",
        "|---|---|---|---|---|---|",
    ]
    for u in top.users:
        topics = "; ".join(_topic(tp) for tp in u.topic_permissions)
        tags = ", ".join(u.tags) or "none (cannot log in to the UI)"
        perms = u.permissions
        out.append(
            f"| `{u.name}` | {tags} | {_cell(perms.configure)} | {_cell(perms.write)} | "
            f"{_cell(perms.read)} | {topics} |"
        )
    return out


def _topic(tp: t.TopicPermission) -> str:
    """What a login may publish (write) or bind (read) on a topic exchange; `^$` is nothing."""
    rights = [f"{what} {_cell(regex)}" for what, regex in (("write", tp.write), ("read", tp.read))]
    return f"`{tp.exchange}`: " + ", ".join(r for r in rights if "`^$`" not in r)


def render(top: t.Topology | None = None) -> str:
    top = top or t.build(t.DEFAULT_VHOST, t.QueueType.CLASSIC)
    return "\n".join([*mermaid(top), "", *tables(top)])
