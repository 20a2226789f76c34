"""Masking of phone numbers and addresses in lists, free text and logs."""

import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from services.common.privacy import mask_address, mask_personal, mask_phone, mask_text

MOBILE = "13812345678"
ADDRESS = "上海市黄浦区南京东路100号3单元502室"


class TestMaskPhone:
    @pytest.mark.parametrize(("phone", "masked"), [
        ("13812345678", "138****5678"),
        ("021-12345678", "021****5678"),
        ("0755-1234567", "075****4567"),
        ("010-1234567", "010****4567"),
        ("+86 21 6487 1234", "021****1234"),   # the country code is not a digit shown
        ("021-64871234-808", "021****1234"),   # nor the extension
    ])
    def test_keeps_first_three_and_last_four_digits(self, phone, masked):
        assert mask_phone(phone) == masked

    def test_short_numbers_fully_hidden(self):
        assert mask_phone("12345") == "*****"
        assert mask_phone("12-34") == "****"
        assert mask_phone("1234567") == "*******"  # first three and last four: all of it

    def test_local_numbers_keep_the_last_four(self):
        assert mask_phone("6487 1234") == "****1234"

    @pytest.mark.parametrize("empty", [None, ""])
    def test_empty_passes_through(self, empty):
        assert mask_phone(empty) == empty

    def test_middle_digits_never_shown(self):
        masked = mask_phone("+86 138-1234-5678")
        assert "1234" not in masked
        assert masked.endswith("****5678")


class TestMaskAddress:
    def test_keeps_district_prefix_only(self):
        masked = mask_address(ADDRESS)
        assert masked == "上海市黄浦区****"
        assert "南京东路" not in masked

    def test_short_addresses_keep_a_third(self):
        assert mask_address("南京东路1号") == "南京****"
        assert mask_address("ab") == "****"

    @pytest.mark.parametrize("empty", [None, ""])
    def test_empty_passes_through(self, empty):
        assert mask_address(empty) == empty

    @settings(max_examples=200, deadline=None)
    @given(address=st.text(min_size=1, max_size=200))
    def test_at_most_a_third_and_six_characters_kept(self, address):
        assume(re.search("[\u4e00-\u9fff]", address) or not re.search("[A-Za-z]{2}", address))
        masked = mask_address(address)
        assert masked.endswith("****")
        kept = masked[:-4]
        assert address.startswith(kept)
        assert len(kept) <= min(6, len(address) // 3)
        assert not any(c.isdigit() for c in kept)  # a house number never leads

    @settings(max_examples=200, deadline=None)
    @given(address=st.text(alphabet="ABCDEQuSistrcoadLn 0123456789,.'-", min_size=2,
                            max_size=80))
    def test_latin_addresses_keep_no_number(self, address):
        masked = mask_address(address)
        assert "****" in masked
        assert not any(c.isdigit() for c in masked)

    def test_latin_addresses_keep_their_districts(self):
        assert (mask_address("No. 1 Nanjing East Road, Huangpu District, Shanghai")
                == "****, Huangpu District, Shanghai")
        assert mask_address("Huangpu Qu Nanjing Dong Lu 1 Hao") == "Huangpu Qu ****"


class TestMaskText:
    @pytest.mark.parametrize(("text", "masked"), [
        ("请回电13812345678谢谢", "请回电138****5678谢谢"),
        ("call 13812345678 now", "call 138****5678 now"),
        ("call +86 13812345678", "call 138****5678"),
        ("call +8613812345678.", "call 138****5678."),
        ("手机 138 1234 5678", "手机 138****5678"),
        ("手机138-1234-5678", "手机138****5678"),
        ("座机021-12345678", "座机021-****5678"),
        ("tel 0755-1234567", "tel 0755-****4567"),
        ("tel 0755 1234 5678", "tel 0755-****5678"),
        ("two: 13812345678, 13987654321", "two: 138****5678, 139****4321"),
        ("手机１３８１２３４５６７８", "手机１３８****５６７８"),  # kept as written
        ("Tel:+86-21-6487-1234 转 8001", "Tel:021-****1234 转 ****"),
        ("TEL-13812345678", "TEL-138****5678"),
    ])
    def test_hides_mobiles_and_landlines(self, text, masked):
        assert mask_text(text) == masked

    def test_landline_without_separator_is_hidden(self):
        masked = mask_text("座机 02112345678")
        assert masked.startswith("座机 021")
        assert masked.endswith("-****5678")
        assert "1234" not in masked

    @pytest.mark.parametrize("text", [
        "order SH-20260105-000123",
        "serial GWH-0001 model JSQ16-12",
        "received 2026-03-09 10:15",
        "12345678901234",               # too long for a phone number
        "11812345678",                  # not a mainland mobile prefix
        "code 310101, 3 units",
        "serial GWH-0808 2028-01-10",   # a serial's 0 is no area code
        "port 18476 310101",            # numbers side by side, not grouped as a phone
        "¥265,193.01 310101",
    ])
    def test_leaves_other_numbers_alone(self, text):
        assert mask_text(text) == text

    @settings(max_examples=200, deadline=None)
    @given(prefix=st.sampled_from(["1" + d for d in "3456789"]),
           rest=st.from_regex(r"\d{9}", fullmatch=True),
           before=st.text(alphabet="abc 电话:：,。", max_size=10),
           after=st.text(alphabet="abc 谢谢,。", max_size=10))
    def test_no_mobile_survives_in_free_text(self, prefix, rest, before, after):
        phone = prefix + rest
        masked = mask_text(before + phone + after)
        assert phone not in masked
        assert rest[2:6] not in re.sub(r"\D", "", masked.replace(phone[-4:], ""))
        assert masked == before + phone[:3] + "****" + phone[-4:] + after


class TestMaskPersonal:
    def test_masks_personal_fields_recursively(self):
        order = {
            "order_id": "SH-20260105-000001",
            "customer": {"name": "王先生", "phone": MOBILE, "address": ADDRESS},
            "contacts": [{"contact_phone": "021-12345678"}],
            "description": f"客户说回电{MOBILE}",
            "reminders": 2,
            "vip": False,
            "technician_id": None,
        }
        masked = mask_personal(order)
        assert masked == {
            "order_id": "SH-20260105-000001",
            "customer": {"name": "王先生", "phone": "138****5678", "address": "上海市黄浦区****"},
            "contacts": [{"contact_phone": "021****5678"}],
            "description": "客户说回电138****5678",
            "reminders": 2,
            "vip": False,
            "technician_id": None,
        }

    def test_does_not_modify_its_input(self):
        order = {"customer": {"phone": MOBILE}}
        mask_personal(order)
        assert order == {"customer": {"phone": MOBILE}}

    def test_non_string_personal_values_are_walked(self):
        assert mask_personal({"address": {"detail": f"tel {MOBILE}"}}) == {
            "address": {"detail": "tel 138****5678"}}
        assert mask_personal({"phone": None}) == {"phone": None}

    def test_tuples_are_masked_like_lists(self):
        masked = mask_personal({"phones": (MOBILE, "021-12345678")})
        assert MOBILE not in str(masked)
        assert masked == {"phones": ["138****5678", "021-****5678"]}

    def test_scalars(self):
        assert mask_personal(MOBILE) == "138****5678"
        assert mask_personal(42) == 42
        assert mask_personal(None) is None


class TestMaskAddressInText:
    @pytest.mark.parametrize(("text", "masked"), [
        ("上海市黄浦区南京东路100号3单元502室", "上海市黄浦区****"),
        ("客户住在黄浦区南京东路1号，请上门", "客户住在黄浦区****，请上门"),
        ("客户说家住南京东路100号3单元502室，下午在家", "客户说家住****，下午在家"),
        ("南京西路1266弄5号", "****"),
        ("浦东新区世纪大道1号", "浦东新区****"),
        ("朝阳区建国门外大街甲6号", "朝阳区****"),
        ("东四十条胡同12号", "****"),
        ("地址为和平路十二号", "地址为****"),
        ("地址：幸福小区5号楼1202，", "地址：****，"),
        ("龙岗区布吉街道某某花园3栋2单元", "龙岗区****"),
    ])
    def test_streets_and_compounds_with_a_number_are_hidden(self, text, masked):
        assert mask_text(text) == masked

    @pytest.mark.parametrize("text", [
        "在南京东路附近",          # a road without a number locates no one
        "我知道3号上门",           # a date, not a house number
        "9月3号来修",
        "1号线地铁站",
        "热水器有煤气味",
        "order SH-20260105-000123 in region 310101",
    ])
    def test_other_text_stays_readable(self, text):
        assert mask_text(text) == text

    @pytest.mark.parametrize(("text", "masked"), [
        ("客户在Room 1203等", "客户在****等"),
        ("请到Huangpu Qu Nanjing Dong Lu 1 Hao维修", "请到Huangpu Qu ****维修"),
        ("住No. 1 Nanjing East Road，电话021-64871234", "住****，电话021-****1234"),
        ("mobile 139-1234-5678, Apt 1203, 88 Xinhua Rd., Changning District, Shanghai",
         "mobile 139****5678, ****, Changning District, Shanghai"),
    ])
    def test_english_and_pinyin_addresses_in_chinese_text(self, text, masked):
        assert mask_text(text) == masked

    def test_address_then_phone_are_both_hidden(self):
        masked = mask_text("南京东路1号3单元502室，电话13812345678")
        assert masked == "****，电话138****5678"

    def test_descriptions_in_lists_are_masked(self):
        masked = mask_personal({"description": f"请到{ADDRESS}维修"})
        assert masked == {"description": "请到上海市黄浦区****维修"}

    @settings(max_examples=200, deadline=None)
    @given(road=st.text(alphabet="南京东西北中山人民解放建设和平", min_size=1, max_size=6),
           suffix=st.sampled_from(["路", "街", "大道", "巷", "弄", "胡同"]),
           number=st.integers(min_value=1, max_value=9999),
           room=st.integers(min_value=101, max_value=3999),
           before=st.sampled_from(["", "住", "地址：", "客户在"]),
           after=st.sampled_from(["", "，请上门", "。"]))
    def test_no_house_or_room_number_survives(self, road, suffix, number, room, before,
                                              after):
        text = f"{before}{road}{suffix}{number}号{room}室{after}"
        masked = mask_text(text)
        assert f"{number}号" not in masked and f"{room}室" not in masked
        assert masked.startswith(before) and masked.endswith("****" + after)


def test_a_households_phones_are_masked_each_as_a_phone_field():
    assert mask_personal({"phones": ["13812345678", "02164871234", "1234567"]}) == {
        "phones": ["138****5678", "021****1234", "*******"]}


def test_an_access_log_line_keeps_no_personal_query_value():
    """The customer file is searched by the phone's first digits in the query string: the
    access log line keeps the path and the other parameters, never the value."""
    line = '127.0.0.1 - - "GET /api/v1/customers?phone=1391234&page=2 HTTP/1.1" 200'
    assert mask_text(line) == '127.0.0.1 - - "GET /api/v1/customers?phone=****&page=2 ' \
        'HTTP/1.1" 200'
    assert mask_text("GET /x?page=1&Name=王先生 HTTP/1.1") == "GET /x?page=1&Name=**** HTTP/1.1"
    assert mask_text("a=b and name=x") == "a=b and name=x"  # not a query string
