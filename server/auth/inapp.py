"""In-app browsers (SPEC 5): a link tapped in WeChat, QQ, Weibo, Alipay, DingTalk or Lark opens in
the app's own browser, which has no WebAuthn and (on iOS) no service worker. The invite and
sign-in pages show how to open the page in the phone's browser instead.

Detecting these needs the User-Agent: they announce themselves there and nowhere else. Feature
detection decides everything else (which way to sign in); this only decides whether to tell the
person to leave the app.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# (marker in the User-Agent, app name). WeChat Work (wxwork) also says MicroMessenger.
_APPS = (
    (re.compile(r"MicroMessenger", re.I), "WeChat"),
    (re.compile(r"(?<![A-Za-z])QQ/\d"), "QQ"),  # the QQ app; not MQQBrowser, a real browser
    (re.compile(r"weibo", re.I), "Weibo"),
    (re.compile(r"AlipayClient", re.I), "Alipay"),
    (re.compile(r"DingTalk", re.I), "DingTalk"),
    (re.compile(r"Lark/|Feishu", re.I), "Lark"),
)


@dataclass(frozen=True)
class InAppBrowser:
    app: str  # WeChat, QQ, Weibo, Alipay, DingTalk, Lark (translated in the template)
    platform: str  # ios | android | other: the way out of the app differs


def detect(user_agent: str) -> InAppBrowser | None:
    """The in-app browser a page was opened in, or None for an ordinary browser."""
    ua = user_agent or ""
    for marker, app in _APPS:
        if marker.search(ua):
            if re.search(r"iPhone|iPad|iPod", ua):
                platform = "ios"
            elif "Android" in ua or "HarmonyOS" in ua:
                platform = "android"
            else:
                platform = "other"
            return InAppBrowser(app, platform)
    return None
