"""Formats of personal data seen in requests, call notes and logs, with what the masked
form must still show, and numbers that are not personal and must stay as written. Shared
by the masking tests and the log tests."""

from __future__ import annotations

import re
import unicodedata

# (as written, what stays readable: the last four digits, in the script they were written)
PHONES: list[tuple[str, str]] = [
    # mobiles
    ("13812345678", "5678"),
    ("+8613912340001", "0001"),
    ("+86 150 2876 1234", "1234"),
    ("+86-186-0021-7788", "7788"),
    ("(+86)137-9988-6655", "6655"),
    ("0086 177 1234 9876", "9876"),
    ("0086-13612345678", "5678"),
    ("86-15821876543", "6543"),
    ("139 1234 5678", "5678"),
    ("158-2187-6543", "6543"),
    ("138.1234.5678", "5678"),
    ("138/1234/5678", "5678"),
    ("1 3 8 1 2 3 4 5 6 7 8", "5678"),
    ("138 - 2468 - 1357", "1357"),
    ("１３８１２３４５６７８", "５６７８"),
    ("１８９ ２２３３ ４４５５", "４４５５"),
    ("＋８６－１３５－００１１－２２３３", "２２３３"),
    ("181-2345 6789", "6789"),
    ("138１２３４5678", "5678"),
    ("+86.199.8765.4321", "4321"),
    ("13812345678 ", "5678"),
    # landlines
    ("021-64871234", "1234"),
    ("(021)64871234", "1234"),
    ("（０２１）６４８７１２３４", "１２３４"),
    ("021-6487 1234", "1234"),
    ("021 6487 1234", "1234"),
    ("02164871234", "1234"),
    ("010-65529988", "9988"),
    ("(010) 6552-9988", "9988"),
    ("0755-87654321", "4321"),
    ("0755 8765 4321", "4321"),
    ("0755.8765.4321", "4321"),
    ("0571/87654321", "4321"),
    ("0898-6512345", "2345"),
    ("０７５５－８７６５４３２１", "４３２１"),
    ("+86 21 6487 1234", "1234"),
    ("+86-21-64871234", "1234"),
    ("86-21-64871234", "1234"),
    ("0086 10 6552 9988", "9988"),
    ("+86 (755) 2601 3344", "3344"),
    ("021-64871234转808", "1234"),
    ("021-64871234-808", "1234"),
    ("0755-8765-4321 ext. 12", "4321"),
    ("010-6552 9988 分机 1234", "9988"),
    # a local number named as a phone
    ("电话：64871234", "1234"),
    ("座机 6487-1234", "1234"),
]

# (as written, what stays readable, the street or building that must not)
ADDRESSES: list[tuple[str, str, str]] = [
    ("上海市黄浦区南京东路100号3单元502室", "黄浦区", "南京东路"),
    ("上海市浦东新区张江路100弄5号1203室", "浦东新区", "张江路"),
    ("广东省深圳市南山区深南大道10000号", "南山区", "深南大道"),
    ("北京市朝阳区建国门外大街甲6号院3号楼1203", "朝阳区", "建国门外"),
    ("浙江省杭州市西湖区文三路90号东部软件园1号楼301室", "西湖区", "软件园"),
    ("江苏省南京市鼓楼区中山北路２８３号", "鼓楼区", "中山北路"),
    ("上海市闵行区七宝镇幸福小区5号楼2单元1202室", "闵行区", "幸福小区"),
    ("四川省成都市武侯区人民南路四段12号", "武侯区", "人民南路"),
    ("广州市天河区天河路385号太古汇1座2501", "天河区", "太古汇"),
    ("深圳市福田区华强北路1002号赛格广场45楼4501", "福田区", "华强北路"),
    ("湖北省武汉市洪山区张家湾村3组15号", "洪山区", "张家湾"),
    ("上海市徐汇区漕溪北路88弄3号601室", "徐汇区", "漕溪北路"),
    ("上海市 黄浦区 南京东路 100号 3单元 502室", "黄浦区", "南京东路"),
    ("上海市黄浦区南京东路１００号３单元５０２室", "黄浦区", "南京东路"),
    ("天津市和平区南京路189-191号", "和平区", "南京路"),
    ("北京市东城区东四十条胡同12号", "东城区", "胡同"),
    ("Huangpu Qu Nanjing Dong Lu 1 Hao", "Huangpu Qu", "Nanjing"),
    ("Shanghai Shi Huangpu Qu Nanjing Dong Lu 100 Hao 5 Hao Lou 1203 Shi", "Huangpu Qu",
     "Nanjing"),
    ("Pudong Xinqu Zhangjiang Lu 100 Nong 5 Hao 1203 Shi", "Pudong Xinqu", "Zhangjiang"),
    ("Chaoyang Qu Jianguomenwai Dajie 6 Hao", "Chaoyang Qu", "Jianguomenwai"),
    ("No. 1 Nanjing East Road, Huangpu District, Shanghai", "Huangpu District", "Nanjing"),
    ("Room 1203, Building 5, 88 Lane 100 Xinhua Road, Changning District, Shanghai",
     "Changning District", "Xinhua"),
    ("Flat 12B, 18/F, Tower 2, 1000 Century Avenue, Pudong New Area, Shanghai",
     "Pudong New Area", "Century"),
    ("Apt 1203, 88 Xinhua Rd., Changning District, Shanghai", "Changning District",
     "Xinhua"),
    ("Room 502, Unit 3, No. 100 Nanjing East Road, Huangpu District, Shanghai",
     "Huangpu District", "Nanjing"),
    ("Suite 1808, 1266 West Nanjing Road, Jing'an District, Shanghai", "Jing'an District",
     "Nanjing"),
    ("12 Jianguo Road, Chaoyang District, Beijing", "Chaoyang District", "Jianguo"),
]

# Numbers that logs carry and that identify no person: they must come out as they went in.
NOT_PERSONAL: list[str] = [
    "SH-20261123-000001",
    "order SH-20261123-021345 at 2026-11-23 13:45",
    "SH-20261123-000001 13 items",
    "2026-11-23T08:30:00.123+08:00",
    "2026-11-23T00:30:00Z",
    "2026/11/23 13:05",
    "epoch 1732345678123",
    "amount 1380.00 元",
    "¥12,345.67",
    "refund 13800.00",
    "event 3f2a0213456789ab13812345678cdeff",    # 32 hex, digits of a phone inside
    "event 1b4e28ba-2fa1-11d2-883f-0016d3cca427",
    "doc 6553f1c2a9b8e4d2c1f0a987",
    "serial GWH-0001",
    "model JSQ16-12, serial SN3f2a1b4c5d",
    "KFR-35GW/(35592)FNhAa-A1",
    "region 310101",
    "region 440305 zone SZ-02",
    "invoice INV-2026-0001234",
    "amqp://guest@rabbit:5672/aftersales",
    "port 5672, took 1500 ms",
    "latency 0.138 s, p99 138.12 ms, timeout 30000ms",
    "retry 3/5",
    "9月3号来修",
    "1号线2号口",
    "在南京东路附近",
    "3室2厅",
    "building 2 reports",
]


def flat(text: str) -> str:
    """Full-width as ASCII, separators gone: "１３８-1234 5678" reads "13812345678"."""
    return re.sub(r"[\s\-./()+]", "", unicodedata.normalize("NFKC", text))


def surviving_runs(original: str, masked: str, size: int = 7) -> list[str]:
    """Runs of ``size`` consecutive digits of ``original`` that ``masked`` still holds."""
    digits = re.sub(r"[^0-9]", "", flat(original))
    shown = flat(masked)
    return sorted({digits[i:i + size] for i in range(len(digits) - size + 1)
                   if digits[i:i + size] in shown})

