"""Names a phone needs beside its records, sent whole with a pull's last page.

A coordinator records supervision, training and ratings of the peer leaders of their community
on the phone, offline: the forms pick a peer leader by name. Users are not a synced entity (no
``seq``), and a community has tens of peer leaders, so the list goes whole with every pull's
last page and the phone replaces what it had; a renamed or deactivated peer leader is right at
the next sync. Ids and names only: no username, contact detail or sign-in data. Other roles get
none (peer leaders and volunteers never see this log; an administrator records it online).
"""

from __future__ import annotations

from typing import Any

from sync.models import Role
from sync.scope import Actor
from sync.store import Dialect
from sync.wire import PeerLeaderName


async def peer_leaders(conn: Any, dialect: Dialect, actor: Actor) -> list[PeerLeaderName] | None:
    """The peer leaders of a coordinator's community, by name (None for any other role)."""
    if actor.role is not Role.COORDINATOR or actor.community_id is None:
        return None
    role, community = dialect.marks(2)
    rows = await conn.execute_query_dict(
        "SELECT id, display_name, is_active FROM users "
        f"WHERE role = {role} AND community_id = {community} ORDER BY display_name, id",
        [Role.PEER_LEADER.value, actor.community_id],
    )
    return [
        PeerLeaderName(id=str(r["id"]), name=str(r["display_name"]), active=bool(r["is_active"]))
        for r in rows
    ]
