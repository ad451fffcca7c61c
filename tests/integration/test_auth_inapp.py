"""Invite links shared in WeChat groups (SPEC 5): opening or previewing one never uses it up, and
inside an in-app browser the invite and sign-in pages say how to open them in the phone's own
browser, in the reader's language."""

from __future__ import annotations

import httpx
import pytest

from server.auth.inapp import detect
from server.auth.invites import create_invite
from server.settings import Settings
from sync.models import AuditEvent, Invite, Role
from tests import factories
from tests.integration.test_auth_device_keys import Phone, register
from tests.integration.test_auth_passkeys import csrf

WECHAT_ANDROID = (
    "Mozilla/5.0 (Linux; Android 12; V2118A Build/SP1A.210812.003; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/107.0.5304.141 Mobile Safari/537.36 XWEB/5127 "
    "MMWEBSDK/20230604 MicroMessenger/8.0.38.2400(0x28002653) WeChat/arm64 Weixin NetType/WIFI"
)
WECHAT_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 16_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148 MicroMessenger/8.0.40(0x1800282a) NetType/WIFI Language/zh_CN"
)
PREVIEW_BOT = "Mozilla/5.0 (compatible; WeChat link preview) facebookexternalhit/1.1"


@pytest.mark.parametrize(
    ("ua", "app", "platform"),
    [
        (WECHAT_ANDROID, "WeChat", "android"),
        (WECHAT_IPHONE, "WeChat", "ios"),
        ("Mozilla/5.0 (iPhone) Mobile/15E148 QQ/8.9.80.610 V1_IPH_SQ_8.9.80", "QQ", "ios"),
        (
            "Mozilla/5.0 (Linux; Android 13) Chrome/99 Mobile Safari/537.36 Weibo (HUAWEI)",
            "Weibo",
            "android",
        ),
        (
            "Mozilla/5.0 (Linux; Android 13) Chrome/99 Mobile AlipayClient/10.5.36",
            "Alipay",
            "android",
        ),
        (
            "Mozilla/5.0 (iPhone) Mobile/15E148 AliApp(DingTalk/7.0.40) DingTalk/7.0.40",
            "DingTalk",
            "ios",
        ),
        (
            "Mozilla/5.0 (Linux; Android 13) Chrome/99 Mobile Lark/6.9.5 LarkLocale/zh_CN",
            "Lark",
            "android",
        ),
    ],
)
def test_in_app_browsers_are_recognised_with_their_platform(
    ua: str, app: str, platform: str
) -> None:
    found = detect(ua)
    assert found is not None and (found.app, found.platform) == (app, platform)


@pytest.mark.parametrize(
    "ua",
    [
        "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/130 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; U; Android 12; zh-cn) Chrome/89 MQQBrowser/13.6 Mobile Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Version/17.5 Mobile/15E148 Safari/604.1",
    ],
)
def test_ordinary_browsers_are_left_alone(ua: str) -> None:
    assert detect(ua) is None


async def test_a_get_and_a_head_of_an_invite_link_leave_it_usable(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await csrf(client)
    user = await factories.user(Role.PEER_LEADER)
    invite = await create_invite(user, settings)
    for ua in (PREVIEW_BOT, WECHAT_ANDROID, "Mozilla/5.0 Chrome/130"):
        page = await client.get(f"/invite/{invite.code}", headers={"user-agent": ua})
        assert page.status_code == 200
        head = await client.head(f"/invite/{invite.code}", headers={"user-agent": ua})
        assert head.status_code == 200 and head.content == b""
    assert (await Invite.get(id=invite.id)).used_at is None
    assert not await AuditEvent.exists(action="invite.used")
    assert (await client.head("/invite/ZZZZ-ZZZZ")).status_code == 404
    # Still good for the registration it was made for, and only that uses it.
    assert (await register(client, Phone(settings), invite)).status_code == 200
    assert (await Invite.get(id=invite.id)).used_at is not None
    assert (await client.head(f"/invite/{invite.code}")).status_code == 410


@pytest.mark.parametrize(
    ("lang", "ua", "words"),
    [
        ("zh-CN", WECHAT_ANDROID, ["请在手机浏览器中打开本页", "在浏览器打开", "复制链接", "微信"]),
        ("zh-CN", WECHAT_IPHONE, ["请在手机浏览器中打开本页", "在Safari中打开", "复制链接"]),
        (
            "en",
            WECHAT_ANDROID,
            ["Open this page in your phone's browser", "Open in browser", "Copy link", "WeChat"],
        ),
        (
            "en",
            WECHAT_IPHONE,
            ["Open this page in your phone's browser", "Open in Safari", "Copy link"],
        ),
    ],
)
async def test_in_wechat_the_invite_and_sign_in_pages_say_how_to_leave_it(
    client: httpx.AsyncClient, settings: Settings, lang: str, ua: str, words: list[str]
) -> None:
    user = await factories.user(Role.PEER_LEADER)
    invite = await create_invite(user, settings)
    headers = {"user-agent": ua, "accept-language": lang}
    page = (await client.get(f"/invite/{invite.code}", headers=headers)).text
    for word in words:
        assert word in page.replace("&#39;", "'")
    assert 'class="inapp-code"' in page and invite.code in page
    assert f'value="{settings.origin}/invite/{invite.code}"' in page
    signin = (await client.get("/signin", headers=headers)).text
    for word in words[:3]:
        assert word in signin.replace("&#39;", "'")
    assert 'class="inapp-code"' not in signin
    # An ordinary browser gets the ordinary page.
    plain = await client.get("/signin", headers={"accept-language": lang})
    assert 'id="inapp"' not in plain.text and 'id="inapp"' in signin
