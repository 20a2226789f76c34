"""Safety triage (安全分诊): what customers say, per product category, both ways.

Each row is a description as an agent types it, the product's category, and the hazard
reasons it must give (empty: not an emergency)."""

import pytest

from services.common.reference import load_reference
from services.intake.domain.priority import PriorityRules, classify
from services.intake.domain.triage import rules_from, triage

SPEC = load_reference("deploy/config/reference.yaml").priority
RULES = rules_from(SPEC)
GWH, STOVE, EWH = "gas_water_heater", "gas_stove", "electric_water_heater"
AC, HOOD = "air_conditioner", "range_hood"

CASES = [
    # -- gas water heater ------------------------------------------------------------------
    (GWH, "热水器有煤气味", ["hazard:煤气味"]),
    (GWH, "厨房里有很重的煤气味，燃气泄漏", ["hazard:煤气味", "hazard:燃气泄漏"]),
    (GWH, "一开热水器就闻到燃气味，很冲", ["hazard:燃气味"]),
    (GWH, "好像有点天然气味，不太确定", ["hazard:天然气味"]),
    (GWH, "是不是漏气了？阳台上味道很大", ["hazard:漏气"]),
    (GWH, "用着用着就熄火了，屋里有股味道", ["hazard:熄火+味"]),
    (GWH, "打不着火，还有一股臭鸡蛋味", ["hazard:臭鸡蛋味", "hazard:打不着火+味"]),
    (GWH, "热水器外壳漏电，洗澡时手发麻", ["hazard:漏电"]),
    (GWH, "热水器冒烟了，有烧焦的味道", ["hazard:冒烟", "hazard:烧焦"]),
    (GWH, "没有煤气味，就是不出热水", []),
    (GWH, "没闻到燃气味，就是水温忽冷忽热", []),
    (GWH, "热水器不漏气，只是点火声音大", []),
    (GWH, "熄火了，但是没闻到什么味道", []),
    (GWH, "燃气味倒是没有，就是打不着火", []),
    (GWH, "想请师傅来检查一下有没有漏气", []),
    (GWH, "热水器用了八年，担心会漏气，想做个保养", []),
    (GWH, "热水器显示E1故障，无燃气味", []),
    # -- gas stove ---------------------------------------------------------------------------
    (STOVE, "燃气灶漏气", ["hazard:漏气"]),
    (STOVE, "灶台下面闻到煤气的味道", ["hazard:煤气的味"]),
    (STOVE, "燃气灶点不着，一直打火，厨房有味", ["hazard:点不着+味"]),
    (STOVE, "煤气管破了，嘶嘶响", ["hazard:气管破"]),
    (STOVE, "There is a gas leak in the kitchen", ["hazard:gas leak"]),
    (STOVE, "Strong GAS SMELL near the stove", ["hazard:gas smell"]),
    (STOVE, "燃气灶打不着火，打火针一直打火花", []),
    (STOVE, "左边灶眼火小，没有异味也不漏气", []),
    (STOVE, "灶具未发现漏气，要求换个旋钮", []),
    (STOVE, "No gas smell, the right burner just won't light", []),
    (STOVE, "灶台附近有gas smell", ["hazard:gas smell"]),
    (STOVE, "Please check whether there is a gas leak", []),
    (STOVE, "火苗发红，怕是一氧化碳，以防万一想检查有没有燃气泄漏", []),
    # -- electric water heater --------------------------------------------------------------
    (EWH, "洗澡的时候手麻，感觉漏电", ["hazard:漏电"]),
    (EWH, "电热水器漏电保护一直跳闸，碰到水龙头被电到了", ["hazard:漏电"]),
    (EWH, "插头那里冒烟，有焦味", ["hazard:冒烟", "hazard:焦味"]),
    (EWH, "热水器插座烧焦了，还冒火花", ["hazard:烧焦", "hazard:冒火花"]),
    (EWH, "热水器下面漏水，正好滴在插座上", ["hazard:漏水+插座"]),
    (EWH, "I got an electric shock from the tap", ["hazard:electric shock"]),
    (EWH, "担心热水器会不会漏电", []),
    (EWH, "不漏电，就是加热很慢", []),
    # water and a socket in one sentence are the hazard; in two sentences they are not
    (EWH, "热水器漏水。插座在另一面墙上，碰不到", []),
    (EWH, "There is no electric shock, just no hot water", []),
    (EWH, "内胆漏水，地上一滩水", []),
    (EWH, "想加装一个防电墙，避免触电", []),
    # -- air conditioner ---------------------------------------------------------------------
    (AC, "空调漏水", []),
    (AC, "空调有气味", []),
    (AC, "空调室内机漏水，滴到沙发上了", []),
    (AC, "空调一开就有一股霉味", []),
    (AC, "空调不冒烟，就是不制冷", []),
    (AC, "焦味倒是没有，就是外机噪音大", []),
    (AC, "空调漏水，滴到下面的插座上了", ["hazard:漏水+插座"]),
    (AC, "空调外机冒烟了", ["hazard:冒烟"]),
    (AC, "空调开机有烧焦的味道", ["hazard:烧焦"]),
    (AC, "空调插头打火花，啪的一声", ["hazard:打火花"]),
    (AC, "摸空调遥控器没事，摸外壳麻手", ["hazard:麻手"]),
    (AC, "空调漏水进了电源线，插座在冒烟", ["hazard:冒烟", "hazard:漏水+插座"]),
    (AC, "空调不停冒烟", ["hazard:冒烟"]),
    (AC, "空调制热不热有焦味", ["hazard:焦味"]),
    (AC, "空调有异味，像是烧焦的塑料", ["hazard:烧焦"]),
    # -- range hood ---------------------------------------------------------------------------
    (HOOD, "油烟机电机冒烟", ["hazard:冒烟"]),
    (HOOD, "油烟机开关打火花，有焦糊味", ["hazard:焦糊味", "hazard:打火花"]),
    (HOOD, "擦油烟机的时候触电了", ["hazard:触电"]),
    (HOOD, "油烟机吸力小，抽不走烟", []),
    (HOOD, "油烟机没有焦味，只是声音大", []),
    (HOOD, "油烟机漏油", []),
    (HOOD, "油烟机有油烟味", []),
    # -- hazards of another kind of product are not its hazards ----------------------------
    (AC, "空调漏气，不制冷了", []),
    (EWH, "电热水器有煤气味？应该是隔壁的燃气灶", []),
]


@pytest.mark.parametrize(("category", "description", "reasons"), CASES,
                         ids=[f"{c}-{d[:12]}" for c, d, _ in CASES])
def test_triage(category, description, reasons):
    assert [finding.reason for finding in triage(RULES, description, category)] == reasons


def test_the_table_is_large_and_goes_both_ways():
    emergencies = [case for case in CASES if case[2]]
    assert len(CASES) >= 60
    assert len(emergencies) >= 25 and len(CASES) - len(emergencies) >= 25
    for category in (GWH, STOVE, EWH, AC, HOOD):
        rows = [reasons for cat, _, reasons in CASES if cat == category]
        assert sum(bool(r) for r in rows) >= 3 and sum(not r for r in rows) >= 3, category


def test_a_hazard_makes_an_emergency_with_the_words_as_reasons():
    found = triage(RULES, "有煤气味", GWH)
    assert classify(PriorityRules((), 30), found, "media", True, None) == (
        "emergency", ["hazard:煤气味"])
    assert [(f.kind, f.advice) for f in found] == [("gas_smell", "gas")]


def test_every_hazard_has_safety_advice_in_chinese():
    assert set(SPEC["safety_advice"]) == {"gas", "electric"}
    assert "燃气总阀" in SPEC["safety_advice"]["gas"] and "开窗" in SPEC["safety_advice"]["gas"] \
        or "门窗" in SPEC["safety_advice"]["gas"]
    assert "总闸" in SPEC["safety_advice"]["electric"]
    assert {h.advice for h in RULES.hazards} <= set(SPEC["safety_advice"])


def test_a_category_without_a_hazard_list_has_every_hazard():
    assert RULES.of_category("dishwasher") == RULES.hazards
    assert triage(RULES, "洗碗机冒烟了", "dishwasher")[0].reason == "hazard:冒烟"
