"""The console's words, Chinese first: one catalogue of every label and message in zh-CN
and English, and dates written the way each language writes them.

A dict, not gettext: one module a reviewer reads at once, and a unit test holds every key
to both languages. Codes the API answers with (states, priorities, zones...) are keys too,
under their vocabulary's prefix, so a page never shows a raw code it could translate.
"""

from __future__ import annotations

from datetime import datetime

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
HTML_LANG = {"zh": "zh-CN", "en": "en"}

_UI: dict[str, tuple[str, str]] = {
    "app.title": ("售后服务工作台", "After-sales workbench"),
    "nav.agent": ("接件", "New request"),
    "nav.dispatch": ("派工台", "Dispatch"),
    "nav.tech": ("我的工单", "My jobs"),
    "nav.board": ("大屏", "Wallboard"),
    "nav.signout": ("退出", "Sign out"),
    "nav.language": ("English", "中文"),
    "login.title": ("登录", "Sign in"),
    "login.token": ("访问令牌", "Access token"),
    "login.submit": ("登录", "Sign in"),
    "login.failed": ("令牌无效、已过期或已吊销。", "The token is unknown, expired or revoked."),
    "login.branch": ("本系统不服务该令牌所属分公司。", "This branch is not served here."),
    "login.signed_in_as": ("当前用户", "Signed in as"),
    "error.csrf": ("表单已过期，请重新提交。", "The form has expired; send it again."),
    "error.forbidden": ("无权访问此页面。", "You may not open this page."),
    "error.not_found": ("未找到，或不属于您所在的分公司。",
                        "Not found, or not of your branch."),
    "error.failed": ("操作未完成。", "The action was not done."),
    "error.title": ("出错了", "Something went wrong"),
    "role.agent": ("客服坐席", "Call-centre agent"),
    "role.dispatcher": ("调度员", "Dispatcher"),
    "role.technician": ("技师", "Technician"),
    "role.supervisor": ("主管", "Supervisor"),
    "role.admin": ("管理员", "Admin"),
    "role.warehouse": ("库管", "Warehouse keeper"),
    "role.finance": ("财务", "Finance"),
    "role.callback_staff": ("回访员", "Callback staff"),
    "role.complaint_handler": ("投诉处理", "Complaint handler"),
    "role.hq_auditor": ("总部稽核", "HQ auditor"),
    "role.board": ("大屏", "Wallboard"),
    "role.hq_agent": ("总部坐席", "HQ agent"),
    "nav.warehouse": ("库存", "Stock"),
    "nav.finance": ("财务", "Finance"),
    "nav.callbacks": ("回访", "Callbacks"),
    "nav.complaints": ("投诉", "Complaints"),
    "nav.audit": ("稽核", "Audit"),
    # -- back-office work lists ----------------------------------------------------
    "work.list_stock": ("库存", "Stock"),
    "work.list_movements": ("出入库记录", "Movements"),
    "work.list_bills": ("账单", "Bills"),
    "work.list_anomalies": ("收费异常", "Charge anomalies"),
    "work.list_statements": ("结算单", "Settlement statements"),
    "work.list_callbacks": ("待回访", "Callbacks to make"),
    "work.list_complaints": ("投诉（按时限）", "Complaints with deadlines"),
    "work.empty": ("暂无记录。", "Nothing here."),
    "work.location": ("库位", "Location"),
    "work.part": ("备件名称", "Part"),
    "work.on_hand": ("在库", "On hand"),
    "work.reserved": ("已预留", "Reserved"),
    "work.available": ("可用", "Available"),
    "work.at": ("时间", "At"),
    "work.kind": ("类型", "Kind"),
    "work.bill": ("账单号", "Bill"),
    "work.rule": ("规则", "Rule"),
    "work.statement": ("结算单号", "Statement"),
    "work.centre": ("网点", "Service centre"),
    "work.month": ("月份", "Month"),
    "work.task": ("回访任务", "Callback"),
    "work.due": ("应回访时间", "Due"),
    "work.complaint": ("投诉单", "Complaint"),
    "work.category": ("类别", "Category"),
    "work.severity": ("严重程度", "Severity"),
    "work.level": ("升级层级", "Escalated to"),
    "work.ack_by": ("受理时限", "Acknowledge by"),
    "work.investigate_by": ("调查时限", "Investigate by"),
    "work.claim": ("领取任务", "Take this call"),
    "work.script": ("回访话术", "Script"),
    "work.script_greeting": ("您好，这里是售后服务中心，想了解一下我们师傅最近上门服务的情况，"
                             "耽误您一分钟。",
                             "Hello, this is the after-sales service centre; may we ask a "
                             "minute about our technician's recent visit?"),
    "work.q_reached": ("是否联系上客户？", "Was the customer reached?"),
    "work.q_fixed": ("问题是否已解决？", "Is the problem fixed?"),
    "work.q_on_time": ("师傅是否按约定时间上门？", "Did the technician come on time?"),
    "work.q_attitude": ("对师傅服务态度打几分（1–5）？", "The technician's manner (1–5)?"),
    "work.q_satisfaction": ("总体满意度（1–5）？", "Overall satisfaction (1–5)?"),
    "work.q_paid": ("本次共支付多少元？", "How much did the customer pay (yuan)?"),
    "work.record": ("保存回访结果", "Record the answers"),
    "work.acknowledge": ("受理", "Acknowledge"),
    "work.receipt": ("入库", "Receive stock"),
    "work.accepted": ("合格数量", "Accepted"),
    "work.receive": ("确认入库", "Receive"),
    "work.payment": ("登记收款", "Record a payment"),
    "work.method": ("支付方式", "Method"),
    "work.amount": ("金额（元）", "Amount (yuan)"),
    "work.pay": ("确认收款", "Record"),
    "home.none": ("您的角色暂无工作台页面，可查看大屏。",
                  "Your role has no console screen yet; the wallboard is open to you."),
    # -- agent ---------------------------------------------------------------------
    "agent.title": ("新建服务请求", "New service request"),
    "agent.customer": ("客户", "Customer"),
    "agent.product": ("产品", "Product"),
    "agent.request": ("诉求", "Request"),
    "field.name": ("姓名", "Name"),
    "field.phone": ("手机号", "Phone"),
    "field.address": ("地址", "Address"),
    "field.region_code": ("区县代码", "Region code"),
    "field.vip": ("重点客户", "Key customer"),
    "field.category": ("品类", "Category"),
    "field.brand": ("品牌", "Brand"),
    "field.model": ("型号", "Model"),
    "field.serial_number": ("机身条码", "Serial number"),
    "field.purchase_date": ("购买日期", "Purchase date"),
    "field.request_type": ("服务类型", "Request type"),
    "field.channel": ("来源渠道", "Channel"),
    "field.description": ("故障描述", "Description"),
    "field.override_priority": ("改判优先级", "Change the priority"),
    "field.override_reason": ("改判理由", "Why the priority is changed"),
    "agent.as_triaged": ("按系统判定", "As the rules decide"),
    "field.reason": ("原因", "Reason"),
    "field.technician": ("技师", "Technician"),
    "agent.submit": ("保存", "Save"),
    "agent.created": ("已建单", "Order created"),
    "agent.reminder": ("催单：该客户已有未结工单", "Reminder: this customer has an open order"),
    "agent.reminders": ("催单次数", "Reminders"),
    "agent.emergency": ("紧急工单：请提醒客户注意安全，立即远离危险源。",
                        "Emergency: tell the customer to stay safe and keep away from the "
                        "hazard."),
    # -- the customer file, shown as the agent types the phone -------------------------
    "customer.title": ("客户档案", "Customer file"),
    "customer.type_more": ("输入至少 7 位号码即可查看客户档案。",
                           "Type at least 7 digits to see the customer's file."),
    "customer.none": ("未找到该号码的客户，保存请求后自动建档。",
                      "No customer with this phone yet; saving the request creates one."),
    "customer.id": ("客户编号", "Customer"),
    "customer.phones": ("电话", "Phones"),
    "customer.units": ("在用产品", "Products"),
    "customer.no_units": ("暂无产品记录", "No product recorded"),
    "customer.open": ("未结工单", "Open orders"),
    "customer.no_open": ("无未结工单", "No open order"),
    "customer.serial_unknown": ("条码未知", "Serial not known"),
    "customer.bought": ("购买", "Bought"),
    "customer.installed": ("安装", "Installed"),
    "customer.services": ("服务次数", "Services"),
    "order.id": ("工单号", "Order"),
    "order.status": ("状态", "Status"),
    "order.priority": ("优先级", "Priority"),
    "order.priority_reasons": ("定级原因", "Why this priority"),
    "order.zone": ("服务区域", "Zone"),
    "order.warranty": ("保修", "Warranty"),
    "order.received": ("受理时间", "Received"),
    "order.deadlines": ("承诺时限", "Deadlines"),
    "order.milestone": ("节点", "Milestone"),
    "order.deadline": ("时限", "Deadline"),
    "order.actual": ("实际", "Actual"),
    "order.outcome": ("结果", "Outcome"),
    "order.timeline": ("处理记录", "Timeline"),
    "order.by": ("操作人", "By"),
    "order.details": ("详情", "Details"),
    "order.technician": ("技师", "Technician"),
    "order.customer": ("客户", "Customer"),
    "order.product": ("产品", "Product"),
    "order.open": ("查看", "Open"),
    "order.next_deadline": ("最近时限", "Next deadline"),
    "order.none": ("暂无工单。", "No orders."),
    # -- dispatcher ----------------------------------------------------------------
    "dispatch.title": ("派工台", "Dispatch"),
    "dispatch.queue": ("待处理工单（按时限排序）", "Open orders by deadline"),
    "dispatch.technicians": ("技师负荷", "Technicians and load"),
    "dispatch.filter": ("筛选", "Filter"),
    "dispatch.all": ("全部", "All"),
    "dispatch.assign": ("派工", "Assign"),
    "dispatch.assigned": ("已派工", "Assigned"),
    "dispatch.pick": ("选择技师", "Pick a technician"),
    "dispatch.load": ("在手/上限", "Jobs / cap"),
    "dispatch.shift": ("班次", "Shift"),
    "dispatch.zones": ("区域", "Zones"),
    "dispatch.active": ("在岗", "Active"),
    "dispatch.updated": ("更新于", "Updated"),
    "dispatch.escalated": ("已升级工单", "Escalated orders"),
    "schedule.title": ("排班表", "Schedule"),
    "schedule.show": ("查看", "Show"),
    "schedule.move": ("改到", "Move to"),
    "schedule.reassign": ("改派", "Reassign"),
    "schedule.hint": ("改到：同一技师、同样时长的当天另一时段；改派后由新技师重新联系客户预约。",
                      "Move to: another hour that day, same technician and length; after a "
                      "reassignment the new technician contacts the customer to book again."),
    "delay.title": ("批准延期", "Approve a delay"),
    "delay.customer_informed": ("已告知客户", "The customer has been told"),
    "delay.approve": ("批准延期", "Approve the delay"),
    "mark.overdue": ("已超时", "Overdue"),
    "mark.at_risk": ("即将超时", "At risk"),
    "mark.forecast_late": ("预计晚到", "Forecast late"),
    "mark.jobs_ahead": ("前面工单", "jobs ahead"),
    # -- technician ----------------------------------------------------------------
    "tech.title": ("我的工单", "My jobs"),
    "tech.accept": ("接单", "Accept"),
    "tech.reject": ("拒单", "Reject"),
    "tech.contact": ("已联系客户", "Customer contacted"),
    "tech.check_in": ("到场签到", "Check in"),
    "tech.complete": ("完工", "Complete"),
    "tech.diagnosis": ("故障诊断", "Diagnosis"),
    "tech.fault_code": ("故障代码", "Fault code"),
    "tech.repair_done": ("维修内容", "Repair done"),
    "tech.done": ("已提交", "Done"),
    "tech.open": ("办理", "Work on it"),
    # -- a technician's job --------------------------------------------------------
    "job.call": ("拨打客户电话", "Call the customer"),
    "job.contact": ("联系客户", "Contact the customer"),
    "job.booked": ("已预约", "Booked"),
    "job.appointment": ("预约上门", "Book a visit"),
    "job.day": ("日期", "Day"),
    "job.customer_requested": ("客户要求改期", "The customer asked for this time"),
    "job.book": ("保存预约", "Book"),
    "job.parts": ("备件", "Parts"),
    "job.sku": ("备件编码", "Part number"),
    "job.quantity": ("数量", "Quantity"),
    "job.part_state": ("状态", "State"),
    "job.no_parts": ("尚未申请备件。", "No parts asked for yet."),
    "job.request_parts": ("申请备件（优先车载库存）", "Ask for parts (the van's first)"),
    "job.quote": ("报价", "Quote"),
    "job.cause": ("故障原因", "Cause"),
    "job.repair_code": ("维修项目代码", "Repair code"),
    "job.distance_km": ("单程距离（公里）", "Distance one way (km)"),
    "job.make_quote": ("生成报价", "Price it"),
    "job.total": ("合计", "Total"),
    "job.quote_ask": ("请客户核对报价后填写姓名确认。",
                      "Let the customer check the quote and confirm with their name."),
    "job.approved_by": ("客户姓名", "Customer's name"),
    "job.approve": ("客户确认报价", "Customer approves"),
    "job.quote_approved": ("客户已确认：", "Approved by the customer:"),
    "job.parts_used": ("使用备件", "Parts used"),
    "job.signature": ("客户签名（请在框内手写）", "Customer's signature (draw in the box)"),
    "job.clear": ("重写", "Clear"),
    "job.photos": ("现场照片", "Photos"),
    "order.signature": ("客户签名", "Customer's signature"),
    "detail.technician_id": ("技师", "Technician"),
    "detail.previous": ("原技师", "Previous technician"),
    "detail.reason": ("原因", "Reason"),
    "detail.note": ("备注", "Note"),
    "detail.priority": ("优先级", "Priority"),
    "detail.decided": ("系统判定", "Decided by the rules"),
    "detail.milestone": ("节点", "Milestone"),
    "detail.channel": ("渠道", "Channel"),
    "detail.start": ("开始", "From"),
    "detail.end": ("结束", "To"),
    "detail.cannot_fix": ("无法修复", "Cannot fix"),
    "detail.confirmed_by_customer": ("客户确认", "Confirmed by the customer"),
    "detail.new_deadline": ("新时限", "New deadline"),
    "detail.paused_seconds": ("暂停秒数", "Seconds paused"),
    "detail.parts": ("备件", "Parts"),
    "yes": ("是", "Yes"),
    "no": ("否", "No"),
}

# The API's codes, by vocabulary.
_CODES: dict[str, dict[str, tuple[str, str]]] = {
    "status": {
        "new": ("待派", "New"), "offered": ("已派待接", "Offered"),
        "accepted": ("已接单", "Accepted"), "contacted": ("已联系", "Contacted"),
        "scheduled": ("已预约", "Scheduled"), "on_site": ("已上门", "On site"),
        "waiting_parts": ("待件", "Waiting for parts"), "completed": ("已完工", "Completed"),
        "cancelled": ("已取消", "Cancelled"), "escalated": ("已升级", "Escalated"),
        "closed": ("已关闭", "Closed"), "answered": ("已答复", "Answered"),
        "handed_to_complaints": ("转投诉", "Handed to complaints"),
    },
    "priority": {"emergency": ("紧急", "Emergency"), "high": ("高", "High"),
                 "normal": ("普通", "Normal")},
    "zone": {"intensive": ("密集区", "Intensive"), "standard": ("标准区", "Standard"),
             "remote": ("偏远区", "Remote")},
    "warranty": {"in_warranty": ("保内", "In warranty"),
                 "main_parts_only": ("仅主要部件保修", "Main parts only"),
                 "out_of_warranty": ("保外", "Out of warranty"),
                 "unknown": ("待确认", "Unknown")},
    "milestone": {"first_contact": ("首次联系", "First contact"),
                  "arrival": ("上门", "Arrival"), "resolution": ("修复", "Resolution")},
    "outcome": {"met": ("达标", "Met"), "breached": ("超时", "Breached"),
                "met_after_approved_delay": ("延期后达标", "Met after approved delay")},
    "request_type": {"installation": ("安装", "Installation"), "repair": ("维修", "Repair"),
                     "maintenance": ("保养", "Maintenance"),
                     "return_exchange": ("退换货", "Return or exchange"),
                     "consultation": ("咨询", "Consultation"),
                     "complaint": ("投诉", "Complaint")},
    "channel": {"hotline": ("热线", "Hotline"), "web": ("网站", "Web"),
                "letter": ("信函", "Letter"), "fax": ("传真", "Fax"),
                "media": ("媒体", "Media"), "email": ("邮件", "Email"),
                "chat": ("在线客服", "Chat"), "walk_in": ("到店", "Walk-in"),
                "12315": ("12315", "12315")},
    "category": {"air_conditioner": ("空调", "Air conditioner"),
                 "gas_water_heater": ("燃气热水器", "Gas water heater"),
                 "electric_water_heater": ("电热水器", "Electric water heater"),
                 "range_hood": ("油烟机", "Range hood"), "gas_stove": ("燃气灶", "Gas stove")},
    "shift": {"always": ("全天", "Always"), "day": ("白班", "Day"),
              "night": ("夜班", "Night"), "office": ("办公时间", "Office hours")},
    "step": {"created": ("建单", "Created"), "offered": ("派单", "Offered"),
             "accepted": ("接单", "Accepted"), "rejected": ("拒单", "Rejected"),
             "offer_expired": ("超时未接", "Offer lapsed"), "assigned": ("派工", "Assigned"),
             "reassigned": ("改派", "Reassigned"), "contacted": ("联系客户", "Contacted"),
             "scheduled": ("预约", "Scheduled"), "checked_in": ("签到", "Checked in"),
             "completed": ("完工", "Completed"), "cancelled": ("取消", "Cancelled"),
             "escalated": ("升级", "Escalated"), "reminder": ("催单", "Reminder"),
             "waiting_parts": ("待件", "Waiting for parts"), "resumed": ("恢复", "Resumed"),
             "delay_approved": ("批准延期", "Delay approved"),
             "rescheduled": ("改约", "Rescheduled"), "closed": ("关闭", "Closed"),
             "breached": ("超时", "Breached"), "repeated": ("重复报修", "Repeat repair"),
             "priority_overridden": ("坐席改判优先级", "Priority changed by the agent")},
    "cause": {"quality_failure": ("质量故障", "Quality failure"), "wear": ("正常损耗", "Wear"),
              "customer_damage": ("人为损坏", "Damage by the customer"),
              "unauthorised_repair": ("私自拆修", "Unauthorised repair")},
    "part_state": {"sourcing": ("调配中", "Sourcing"), "reserved": ("已预留", "Reserved"),
                   "in_transfer": ("调拨在途", "In transfer"),
                   "backordered": ("缺货待采购", "Backordered"),
                   "consumed": ("已使用", "Used"), "released": ("已释放", "Released")},
    "movement": {"receive": ("入库", "Received"), "reserve": ("预留", "Reserved"),
                 "release": ("释放", "Released"), "consume": ("领用", "Used"),
                 "consume_unreserved": ("车载领用", "Used from the van"),
                 "issue": ("发料", "Issued"), "transfer_out": ("调出", "Transferred out"),
                 "transfer_in": ("调入", "Transferred in"),
                 "transfer_out_reserved": ("调出（预留）", "Transferred out, held"),
                 "transfer_in_reserved": ("调入（预留）", "Transferred in, held"),
                 "adjust_in": ("盘盈", "Count surplus"), "adjust_out": ("盘亏", "Count shortfall"),
                 "scrap": ("报废", "Scrapped"),
                 "old_part_return": ("旧件返还", "Old part returned"),
                 "inspection_reject": ("验收拒收", "Rejected at inspection"),
                 "count": ("盘点", "Counted")},
    "photo": {"old_part": ("旧件照片", "The old part"), "nameplate": ("铭牌照片", "The nameplate")},
    "pay_method": {"cash": ("现金", "Cash"), "card": ("刷卡", "Card"),
                   "mobile": ("移动支付", "Mobile payment")},
    "bill": {"open": ("待收款", "Open"), "paid": ("已收款", "Paid"),
             "settled": ("已结算", "Settled")},
    "task_kind": {"first": ("首次回访", "First"), "second": ("二次回访", "Second"),
                  "maintenance_visit": ("保养回访", "Maintenance"),
                  "inspection": ("巡检", "Inspection"),
                  "long_term_care": ("长期关怀", "Long-term care"),
                  "key_customer_care": ("重点客户关怀", "Key customer care"),
                  "campaign": ("专项活动", "Campaign")},
    "task_status": {"open": ("待回访", "Open"), "pending": ("待定", "Pending"),
                    "done": ("已完成", "Done")},
    "complaint_status": {"open": ("待受理", "Open"), "acknowledged": ("已受理", "Acknowledged"),
                         "investigated": ("已调查", "Investigated"),
                         "resolved": ("已处理", "Resolved"), "closed": ("已关闭", "Closed")},
    "complaint_category": {"attitude": ("服务态度", "Attitude"),
                           "timeliness": ("时效", "Timeliness"),
                           "repair_quality": ("维修质量", "Repair quality"),
                           "charges": ("收费", "Charges"), "parts": ("备件", "Parts"),
                           "product_quality": ("产品质量", "Product quality"),
                           "other": ("其他", "Other")},
    "severity": {"low": ("低", "Low"), "medium": ("中", "Medium"), "high": ("高", "High"),
                 "critical": ("严重", "Critical")},
    "level": {"branch": ("分公司", "Branch"), "supervisor": ("主管", "Supervisor"),
              "hq": ("总部", "Headquarters")},
    "complaint_milestone": {"complaint_ack": ("受理", "Acknowledgement"),
                            "complaint_investigation": ("调查", "Investigation")},
    "complaint_step": {"opened": ("立案", "Opened"), "acknowledged": ("受理", "Acknowledged"),
                       "concluded": ("调查结论", "Concluded"), "resolved": ("处理", "Resolved"),
                       "closed": ("关闭", "Closed"), "reopened": ("重开", "Reopened"),
                       "repeated": ("重复投诉", "Repeated"), "breached": ("超时", "Breached")},
    "reason": {"hazard": ("安全隐患", "Hazard"), "key_customer": ("重点客户", "Key customer"),
               "channel": ("敏感渠道", "Sensitive channel"),
               "repeat_of": ("重复报修", "Repeat of"),
               "agent_override": ("坐席改判", "Changed by the agent")},
}

MESSAGES: dict[str, tuple[str, str]] = {
    **_UI,
    **{f"{vocabulary}.{code}": words for vocabulary, codes in _CODES.items()
       for code, words in codes.items()},
}


def language(value: str | None) -> str:
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def translate(lang: str, key: str) -> str:
    """The key's words in ``lang``; an unknown key shows itself (a code the catalogue
    does not know yet stays readable rather than blank)."""
    words = MESSAGES.get(key)
    if words is None:
        return key.partition(".")[2] or key
    return words[LANGUAGES.index(language(lang))]


def reason(lang: str, text: str) -> str:
    """A priority reason from intake (``hazard:煤气味``, ``key_customer``) in words."""
    kind, _, detail = text.partition(":")
    words = translate(lang, f"reason.{kind}")
    return f"{words}：{detail}" if detail else words


_DETAIL_VOCABULARY = {"priority": "priority", "decided": "priority", "milestone": "milestone",
                      "channel": "channel"}
_DETAIL_TIMES = ("start", "end", "new_deadline")


def detail(lang: str, key: str, value: object) -> str:
    """One detail of a timeline entry in words: ``priority: emergency`` as 优先级：紧急."""
    label = translate(lang, f"detail.{key}") if f"detail.{key}" in MESSAGES else key
    if isinstance(value, bool):
        shown = translate(lang, "yes" if value else "no")
    elif key in _DETAIL_VOCABULARY:
        shown = translate(lang, f"{_DETAIL_VOCABULARY[key]}.{value}")
    elif key in _DETAIL_TIMES:
        shown = format_time(lang, str(value))
    else:
        shown = str(value)
    return f"{label}：{shown}" if language(lang) == "zh" else f"{label}: {shown}"


def codes(vocabulary: str) -> tuple[str, ...]:
    return tuple(_CODES[vocabulary])


def format_time(lang: str, value: str | None) -> str:
    """An ISO 8601 time from the API, in the offset it carries (the branch's own)."""
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if language(lang) == "zh":
        return f"{moment.year}年{moment.month}月{moment.day}日 {moment:%H:%M}"
    return f"{moment.day} {moment:%b %Y %H:%M}"
