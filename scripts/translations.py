"""Fill the English and Chinese message catalogues from the table below, then compile.

The source language of the interface is Simplified Chinese; English translations of its
strings are kept here, with Chinese for the few messages written in English (API errors).
Run `.venv/bin/python scripts/translations.py` after `manage.py makemessages -l en -l zh_Hans`.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

LOCALE = Path(__file__).resolve().parent.parent / "locale"

ENGLISH = {
    "核查情况（不通过时必填）": "What you found (required if it fails)",
    "拍核查照片": "Take verification photos",
    "核查不通过时，请写明原因。": "Say why the verification fails.",
    "网络不通，核查未提交；恢复网络后再提交。": "No network: the verification was not sent. Send it again when the network is back.",
    "核查通过，等待结案。": "passed verification, waiting to be closed.",
    "核查不通过，已退回返工。": "failed verification, sent back for rework.",
    "gridmgmt 网格化管理": "gridmgmt city grid management",
    "一张图与基础数据": "One map and base data",
    "一张图": "One map",
    "市": "City",
    "区": "District",
    "街道": "Street",
    "街道/镇": "Street/town",
    "社区": "Community",
    "社区/村": "Community/village",
    "网格": "Grid cell",
    "姓名": "Name",
    "公民身份号码": "Citizen ID number",
    "联系电话": "Phone",
    "现行": "Current",
    "已失效": "Retired",
    "层级": "Tier",
    "编码": "Code",
    "名称": "Name",
    "英文名": "English name",
    "边界": "Boundary",
    "生效日期": "Valid from",
    "失效日期": "Valid to",
    "区域": "Area",
    "位置": "Location",
    "更新时间": "Updated",
    "户籍人口": "Registered resident",
    "流动人口": "Floating resident",
    "境外人员": "Foreign resident",
    "户号": "Household number",
    "居住地址": "Address",
    "人口类型": "Resident type",
    "人口": "Population",
    "存续": "Active",
    "注销": "Cancelled",
    "吊销": "Revoked",
    "统一社会信用代码": "Unified social credit code",
    "单位类型": "Entity type",
    "地址": "Address",
    "状态": "State",
    "法人单位": "Legal entities",
    "完好": "Intact",
    "破损": "Damaged",
    "丢失": "Missing",
    "占用": "Occupied",
    "废弃": "Retired",
    "部件标识码": "Component ID",
    "小类": "Subcategory",
    "主管部门": "Competent department",
    "权属单位": "Owner",
    "养护单位": "Maintainer",
    "部件": "Components",
    "地址编码": "Address code",
    "标准地址": "Standard addresses",
    "街路巷": "Road",
    "门牌号": "House number",
    "建筑物/小区": "Building/estate",
    "建筑物编码": "Building code",
    "层数": "Floors",
    "建筑物": "Buildings",
    "事件": "Event",
    "工作时": "Working hours",
    "工作日": "Working days",
    "自然时": "Calendar hours",
    "类型": "Kind",
    "大类代码": "Major code",
    "小类代码": "Minor code",
    "立案条件": "Filing condition",
    "结案条件": "Closing condition",
    "处置时限": "Time limit",
    "紧急处置时限": "Urgent time limit",
    "时限单位": "Limit unit",
    "紧急时限单位": "Urgent limit unit",
    "默认紧急": "Urgent by default",
    "默认责任单位类型": "Default responsible unit type",
    "启用": "Active",
    "分类": "Category",
    "部件事件分类": "Component and event catalogue",
    "网格员": "Grid inspector",
    "12345坐席": "12345 hotline operator",
    "街道调度员": "Street dispatcher",
    "区指挥中心": "District command centre",
    "市指挥中心": "City command centre",
    "专业部门": "Department",
    "领导": "Leader",
    "基础数据管理员": "Base data administrator",
    "辖区": "Area",
    "单位": "Unit",
    "角色": "Role",
    "负责网格": "Own grid cells",
    "工作人员": "Staff",
    # case intake: the app, sources, channels and the case's fields
    "案件受理": "Case intake",
    "网格员上报": "Grid inspector report",
    "12345热线": "12345 hotline",
    "Open311应用": "Open311 app",
    "网格员终端": "Inspector app",
    "电话": "Phone",
    "短信": "SMS",
    "微信": "WeChat",
    "微博": "Weibo",
    "网站": "Website",
    "来源": "Source",
    "渠道": "Channel",
    "客户端编号": "Client ID",
    "内容摘要": "Content digest",
    "紧急": "Urgent",
    "问题描述": "Description",
    "附加属性": "Additional attributes",
    "上报坐标系": "Reported datum",
    "定位精度(米)": "Location accuracy (m)",
    "地址描述": "Address as described",
    "部件编码": "Component code",
    "相关单位": "Related entity",
    "上报人": "Reporter",
    "来电人": "Caller",
    "来电号码": "Caller's number",
    "合并至": "Merged into",
    "责任单位": "Responsible unit",
    "督办单位": "Supervising unit",
    "核查人": "Verifier",
    "反馈人": "Handled by",
    "上报时间": "Reported at",
    "立案时间": "Filed at",
    "派遣时间": "Dispatched at",
    "反馈时间": "Handled at",
    "结案时间": "Closed at",
    "预警时间": "Warning at",
    "已预警": "Warned",
    "已超期": "Overdue",
    "督办级别": "Supervision level",
    "按期结案": "Closed on time",
    "曾缓办": "Was suspended",
    "延期次数": "Extensions",
    "返工次数": "Reworks",
    "案件": "Cases",
    # case history, photos and live events
    "时间": "Time",
    "操作人": "Done by",
    "操作单位": "Unit of the actor",
    "操作": "Action",
    "原状态": "From state",
    "新状态": "To state",
    "说明": "Note",
    "详情": "Details",
    "案件历史": "Case history",
    "案件历史只能追加，不能修改。": "Case history can only be appended to, not changed.",
    "照片": "Photos",
    "实时事件": "Live events",
    # case loop: states
    "已上报": "Reported",
    "已立案": "Filed",
    "已注销": "Cancelled",
    "已合并": "Merged",
    "已派遣": "Dispatched",
    "处置中": "In progress",
    "已退回": "Returned",
    "缓办中": "Suspended",
    "待核查": "Awaiting verification",
    "返工": "Rework",
    "核查通过": "Verification passed",
    "已结案": "Closed",
    # case loop: actions
    "立案": "File",
    "合并": "Merge",
    "派遣": "Dispatch",
    "签收": "Sign for",
    "退回": "Return",
    "申请延期/缓办": "Request extension/suspension",
    "批准延期/缓办": "Approve extension/suspension",
    "驳回延期/缓办": "Reject extension/suspension",
    "恢复处置": "Resume handling",
    "反馈": "Submit feedback",
    "核查不通过": "Verification failed",
    "结案": "Close",
    "上报上级": "Escalate",
    # case loop: what an action needs (the %(what)s of "请填写%(what)s。")
    "注销理由": "a reason for cancelling",
    "上报理由": "a reason for escalating",
    "退回理由": "a reason for returning",
    "申请理由": "a reason for the request",
    "处置情况": "what was done",
    "核查不通过的原因": "why verification failed",
    # case loop: refusals
    "案件 #%(id)s 没有编号为 %(photo)s 的照片。": "Case #%(id)s has no photo with id %(photo)s.",
    "案件评价": "case-evaluation",
    "至": "to",
    "案件不在您单位的辖区内，不能%(action)s。": "The case is not in your unit's area: you cannot %(action)s it.",
    "案件未派给您的单位，不能%(action)s。": "The case was not dispatched to your unit: you cannot %(action)s it.",
    "您不是此案件指定的核查人，不能%(action)s。": "You are not the verifier assigned to this case: you cannot %(action)s it.",
    "没有编号为 %(id)s 的案件，或您无权查看。": "There is no case %(id)s, or you may not see it.",
    "案件 #%(id)s 当前为「%(state)s」，不能%(action)s（仅在%(allowed)s时可以）。": (
        "Case #%(id)s is currently “%(state)s”; “%(action)s” is only possible when it is "
        "%(allowed)s."
    ),
    "无岗位": "A user without a post",
    "%(role)s不能对案件执行「%(action)s」。": "%(role)s cannot take the action “%(action)s” on a case.",
    "请填写%(what)s。": "Please enter %(what)s.",
    "不能把案件合并到它自己。": "A case cannot be merged into itself.",
    "案件 #%(id)s %(state)s，不能再合并进去。": (
        "Case #%(id)s is %(state)s; nothing more can be merged into it."
    ),
    "无法派遣：%(error)s；请先在后台设置属地单位。": (
        "Cannot dispatch: %(error)s; please set up the territorial unit in the admin first."
    ),
    "单位 %(id)s 不存在。": "Unit %(id)s does not exist.",
    "%(unit)s 的辖区不包含案件所在位置，不能派给它。": (
        "The area of %(unit)s does not include the case's location; the case cannot be "
        "dispatched to it."
    ),
    "不能直接派给上级单位 %(unit)s；请使用“上报上级”。": (
        "%(unit)s is a unit of a higher tier and cannot be dispatched to directly; "
        "please use “Escalate”."
    ),
    "无法上报：%(error)s。": "Cannot escalate: %(error)s.",
    "类型应为 extend(延期) 或 suspend(缓办)。": (
        "The kind must be extend (extension) or suspend (suspension)."
    ),
    "延期须填写延长的工作时数(1-2000)。": (
        "An extension needs the number of extra working hours (1-2000)."
    ),
    "此案件已有一个待审批的延期/缓办申请。": (
        "This case already has an extension/suspension request awaiting approval."
    ),
    "案件 #%(id)s 没有待审批的延期/缓办申请。": (
        "Case #%(id)s has no extension/suspension request awaiting approval."
    ),
    "反馈须附现场处置照片。": "Feedback must come with photos of the work on site.",
    "处置人不能核查自己处置的案件。": "The handler of a case cannot verify it.",
    # case intake: refusals
    "只有在岗工作人员可以使用地址匹配。": "Only staff with a post can use address matching.",
    "地址过长：请只输入地址本身，最多 %(max)d 个字。": (
        "Address too long: please enter only the address itself, at most %(max)d characters."
    ),
    "地址太短：请至少输入 %(min)d 个字，例如路名加门牌号或小区名。": (
        "Address too short: please enter at least %(min)d characters, e.g. a road name with a "
        "house number, or the name of an estate."
    ),
    "只有区名或门牌号无法定位：请同时输入路名、街巷名或小区名。": (
        "A district name or house number alone cannot be located: please also enter the name "
        "of a road, street, lane or estate."
    ),
    "最多上传%(limit)d张照片，收到%(count)d张。": (
        "At most %(limit)d photos can be uploaded; received %(count)d."
    ),
    "照片 %(name)s 大小为 %(size).1f MB，超过上限 %(max).1f MB。": (
        "Photo %(name)s is %(size).1f MB, over the limit of %(max).1f MB."
    ),
    "文件 %(name)s 不是 JPEG、PNG 或 WebP 图片。": "File %(name)s is not a JPEG, PNG or WebP image.",
    "热线工单的渠道应为电话、短信、微信、微博或网站。": (
        "The channel of a hotline ticket must be phone, SMS, WeChat, Weibo or website."
    ),
    "只有%(role)s可以提交此类上报。": "Only the role “%(role)s” can submit this kind of report.",
    "客户端编号 %(uuid)s 已用于另一份上报(案件 #%(id)d)；新的上报请使用新的编号。": (
        "Client ID %(uuid)s was already used for another report (case #%(id)d); please use "
        "a new ID for a new report."
    ),
    "分类 %(id)s 不存在或已停用。": "Category %(id)s does not exist or is inactive.",
    "“%(name)s”是大类，请选择其下的小类。": (
        "“%(name)s” is a major category; please choose one of its subcategories."
    ),
    "经纬度必须是有限的数值。": "Longitude and latitude must be finite numbers.",
    "经纬度超出范围：经度应在 -180 到 180，纬度在 -90 到 90 之间。": (
        "Longitude or latitude out of range: longitude must be between -180 and 180, "
        "latitude between -90 and 90."
    ),
    "定位精度应为 0 到 100000 米。": "Location accuracy must be between 0 and 100000 metres.",
    "该位置不在本市任何网格内：%(error)s": "This location is not in any grid cell of the city: %(error)s",
    "该位置在网格 %(cell)s（%(name)s），不在您负责的网格内，且距离超过 %(tolerance)d 米；请核对定位或由该网格的网格员上报。": (
        "This location is in grid cell %(cell)s (%(name)s), which is not one of your cells, "
        "and more than %(tolerance)d metres away from them; please check the location, or "
        "leave the report to that cell's grid inspector."
    ),
    "部件编码 %(code)s 不在部件库中。": "Component code %(code)s is not in the component register.",
    "请填写来电人描述的地址。": "Please enter the address as the caller described it.",
    "标准地址 %(id)s 不存在。": "Standard address %(id)s does not exist.",
    "请确认一个标准地址候选，或在地图上选取位置。": (
        "Please confirm one of the standard address candidates, or pick the location on the map."
    ),
    "请描述问题。": "Please describe the problem.",
    "问题描述最多4000字，收到%(n)d字。": (
        "The description can be at most 4000 characters long; received %(n)d."
    ),
    # base data added for the case loop: addresses, categories, units
    "检索文本": "Search text",
    "疑似重复半径(米)": "Duplicate radius (m)",
    "疑似重复时间窗(小时)": "Duplicate time window (hours)",
    "属地单位": "Territorial unit",
    "热线中心": "Hotline centre",
    "其他": "Other",
    "专业类别": "Specialism",
    # command and dispatch: routing rules, dispatch records, extensions, the calendar
    "指挥调度": "Command and dispatch",
    "顺序": "Order",
    "起始时刻": "From (time of day)",
    "结束时刻": "To (time of day)",
    "派遣层级": "Dispatch tier",
    "只派属地单位": "Territorial unit only",
    "自动立案派遣": "File and dispatch automatically",
    "派遣规则": "Dispatch rules",
    "派遣记录": "Dispatch records",
    "延期": "Extension",
    "缓办": "Suspension",
    "延长工作时": "Extra working hours",
    "理由": "Reason",
    "延期/缓办申请": "Extension/suspension requests",
    "日期": "Date",
    "工作日历": "Working calendar",
    "上班": "Working day",
    "休息": "Day off",
    "工作日历自 %(day)s 起连续 %(count)d 天没有工作日，请检查工作日历。": (
        "The working calendar has no working day in the %(count)d days from %(day)s; "
        "please check the working calendar."
    ),
    # evaluation tables: columns
    "受理数": "Received",
    "立案数": "Filed",
    "应结案数": "Due",
    "缓办数": "Suspended",
    "结案数": "Closed",
    "按期结案数": "Closed on time",
    "超期数": "Overdue",
    "结案率": "Closure rate",
    "按期结案率": "On-time closure rate",
    "返工数": "Reworks",
    "延期数": "Extensions",
    "紧急应结案数": "Urgent due",
    "紧急缓办数": "Urgent suspended",
    "紧急结案数": "Urgent closed",
    "紧急按期结案数": "Urgent closed on time",
    "紧急超期数": "Urgent overdue",
    "紧急结案率": "Urgent closure rate",
    "紧急按期结案率": "Urgent on-time closure rate",
    "单位编号": "Unit ID",
    "派遣次数": "Dispatches",
    "用户名": "Username",
    "上报数": "Reports",
    "有效上报数": "Valid reports",
    "注销数": "Cancelled",
    "合并数": "Merged",
    "有效上报率": "Valid report rate",
    "核查数": "Verifications",
    "按时核查数": "Verified on time",
    "按时核查率": "On-time verification rate",
    "合计": "Total",
    # evaluation tables: the export's sheets and the query's errors
    "%(by)s评价": "%(by)s evaluation",
    "口径说明": "Definitions",
    "分组": "Grouped by",
    "本表周期": "Period of this table",
    "数据截至": "Data as of",
    "指标": "Figure",
    "口径": "Definition",
    "start 和 end 须同时给出；都不给时为本月。": (
        "Give start and end together; without both, the period is the current month."
    ),
    "未知的分组 %(by)s；可选：%(choices)s。": "Unknown grouping %(by)s; choose one of: %(choices)s.",
    "lon 和 lat 须同时给出。": "Give lon and lat together.",
    "结束日期必须晚于开始日期（结束日期不含在统计周期内）。": (
        "The end date must be after the start date (the end date is not part of the period)."
    ),
    "统计周期不能超过%(days)d天。": "The period cannot be longer than %(days)d days.",
    # evaluation tables: definitions (the second sheet of the export)
    "统计周期": "Period",
    "按北京时间的日期，自开始日0时起，至结束日0时止（不含结束日）。": (
        "Dates in Beijing time, from 00:00 on the start date to 00:00 on the end date "
        "(the end date is not included)."
    ),
    "上报时间在统计周期内的案件数。": "Cases reported within the period.",
    "立案时间在统计周期内的案件数。": "Cases filed within the period.",
    "已派遣、未注销未合并、处置时限（含延期）在统计周期内的案件数。超期未结的案件计入其处置时限所在周期，不结转到以后的周期。": (
        "Cases dispatched, neither cancelled nor merged, whose time limit (extensions "
        "included) falls within the period. A case overdue and still open counts in the "
        "period of its time limit and is not carried over to later periods."
    ),
    "应结案件中经批准缓办的案件数，不计入结案率和按期结案率的分母。": (
        "Due cases with an approved suspension; they are left out of the denominators of "
        "the closure rate and the on-time closure rate."
    ),
    "应结案件中（不含缓办）在统计周期结束前结案的案件数。": (
        "Due cases (suspended ones excluded) closed before the end of the period."
    ),
    "结案案件中在处置时限（含延期）内结案的案件数。": (
        "Closed cases that were closed within their time limit (extensions included)."
    ),
    "应结案件中（不含缓办）处置时限已过而未按期结案的案件数，含超期结案和超期未结。": (
        "Due cases (suspended ones excluded) whose time limit has passed without their "
        "being closed on time, whether closed late or still open."
    ),
    "应结案件核查不通过而返工的次数。": (
        "Times due cases failed verification and went back for rework."
    ),
    "应结案件经批准延期的次数。": "Approved extensions of due cases.",
    "结案数 ÷ (应结案数 − 缓办数)；分母为0时为空。": (
        "Closed ÷ (Due − Suspended); empty when the denominator is 0."
    ),
    "按期结案数 ÷ (应结案数 − 缓办数)；分母为0时为空。": (
        "Closed on time ÷ (Due − Suspended); empty when the denominator is 0."
    ),
    "紧急案件": "Urgent cases",
    "以“紧急”开头的各项只统计紧急案件，口径同上。": (
        "The figures beginning with “Urgent” count urgent cases only, with the same "
        "definitions as above."
    ),
    "按案件立案时所在的区、街道、社区、网格统计。": (
        "By the district, street, community and grid cell the case lay in when it was filed."
    ),
    "按案件当前的责任单位统计；派遣次数为统计周期内派遣（含升级）到该单位的次数。": (
        "By the case's current responsible unit; Dispatches is the number of times cases "
        "were dispatched (escalations included) to the unit within the period."
    ),
    "网格员在统计周期内上报的案件数；有效上报数为其中已立案的案件数。": (
        "Cases the grid inspector reported within the period; Valid reports are those of "
        "them that were filed."
    ),
    "有效上报数 ÷ 上报数。": "Valid reports ÷ Reports.",
    "网格员在统计周期内完成的核查次数（通过与不通过）。": (
        "Verifications the grid inspector completed within the period (passed or failed)."
    ),
    "处置单位反馈后1小时内完成的核查次数；按时核查率 = 按时核查数 ÷ 核查数。": (
        "Verifications completed within 1 hour of the handling unit's feedback; On-time "
        "verification rate = Verified on time ÷ Verifications."
    ),
    # The live map (map_ui) and Open311 (open311).
    "请先登录，再查看地图图层。": "Please sign in to view the map layers.",
    "没有这个瓦片：缩放级别或行列号超出范围。": "No such tile: the zoom level or the column/row is out of range.",
    "新案件": "New",
    "待签收": "To sign",
    "辖区范围": "Own area",
    "热线受理": "Hotline intake",
    "正常": "On time",
    "预警": "Warning",
    "超期": "Overdue",
    "未计时": "No deadline",
    "办理经过": "History",
    "正在加载…": "Loading…",
    "加载失败，请重试。": "Could not load; please try again.",
    "类别": "Category",
    "督办": "Escalated",
    "无": "None",
    "行政区划": "Administrative areas",
    "人口密度": "Population density",
    "实时案件": "Live cases",
    "正在连接实时推送…": "Connecting to live updates…",
    "实时推送已连接": "Live updates connected",
    "实时推送已断开，正在重连…": "Live updates lost, reconnecting…",
    "无法接收实时推送，请重新登录。": "Live updates unavailable; please log in again.",
    "没有超期或督办的案件。": "No overdue or escalated cases.",
    "此队列没有案件。": "No cases in this queue.",
    "延期小时数": "Extension hours",
    "确定": "OK",
    "取消": "Cancel",
    "已办理": "Done",
    "在队列或地图上选择一件案件。": "Pick a case in the queue or on the map.",
    "无应结案件": "No cases due",
    "全市": "Whole city",
    "超期与督办案件": "Overdue and escalated cases",
    "最新动态": "Latest changes",
    "今日新增": "New today",
    "在办": "Open",
    "今日按期结案": "Closed on time today",
    "月份": "Month",
    "自": "From",
    "查询": "Show",
    "导出 CSV": "Export CSV",
    "导出 Excel": "Export Excel",
    "各街道按期结案率": "On-time closing rate by street",
    "图例": "Legend",
    "正在查找…": "Searching…",
    "没有找到匹配的标准地址；可在地图上点选位置。": "No matching standard address; you can pick the place on the map.",
    "匹配度": "Match",
    "已选标准地址：": "Standard address: ",
    "地图选点：": "Point on the map: ",
    "尚未确定位置：请选择候选地址，或在地图上点选。": "No place yet: choose a candidate address or pick a point on the map.",
    "请填写地址、分类和问题描述。": "Please fill in the address, category and description.",
    "附近没有同类未结案件。": "No open case of this category nearby.",
    "附近有同类未结案件，可能重复：": "Open cases of this category nearby, possibly duplicates:",
    "米": "m",
    "正在提交…": "Submitting…",
    "已受理，案件编号：": "Accepted, case number: ",
    "网络错误，工单未提交，请重试。": "Network error: the ticket was not submitted, please try again.",
    "请给出标准地址或地图上的位置。": "Give a standard address or a point on the map.",
    "正在定位…": "Locating…",
    "已定位": "Located",
    "精度": "accuracy",
    "请选择分类并描述问题。": "Please choose a category and describe the problem.",
    "尚未取得定位，无法上报；请在室外开启定位后重试。": "No position yet, the report cannot be sent; turn on location outdoors and try again.",
    "无法取得定位：": "Cannot get the position: ",
    "等待网络，恢复后自动发送": "Waiting for the network; sent automatically when it is back",
    "正在发送…": "Sending…",
    "已发送，案件编号：": "Sent, case number: ",
    "未被受理：": "Not accepted: ",
    "重试": "Retry",
    "修改": "Edit",
    "丢弃": "Discard",
    "丢弃这份上报？": "Discard this report?",
    "张照片": "photo(s)",
    "最多 %(n)d 张照片。": "At most %(n)d photos.",
    "暂无核查任务。": "No verification tasks.",
    "核查任务加载失败。": "Could not load the verification tasks.",
    "附近可能重复的案件：": "Possible duplicates nearby: ",
    "离线": "Offline",
    "在线": "Online",
    "来电人所述地址": "Address as the caller says it",
    "例如：天河区华景路123号华景新城5栋": "e.g. 天河区华景路123号华景新城5栋",
    "查找": "Search",
    "候选标准地址": "Candidate standard addresses",
    "找不到时，在地图上点选位置；标记可拖动微调。": "If it is not found, pick the place on the map; the marker can be dragged to adjust.",
    "问题": "Problem",
    "请选择分类": "Choose a category",
    "来电人姓名": "Caller's name",
    "提交工单": "Submit ticket",
    "上报问题": "Report a problem",
    "重新定位": "Locate again",
    "拍照或选择照片": "Take or choose photos",
    "清除照片": "Clear photos",
    "上报": "Report",
    "我的上报": "My reports",
    "核查任务": "Verification tasks",
    "指挥中心": "Command centre",
    "街道调度台": "Street dispatch board",
    "考核评价": "Evaluation",
    "退出": "Log out",
    "登录": "Log in",
    "用户名或密码不正确。": "Wrong user name or password.",
    "密码": "Password",
    "一张图页面": "Map pages",
    "媒体链接": "Media URL",
    "API 密钥已签发": "API key issued",
    "吊销所选密钥": "Revoke the selected keys",
    "已吊销 %(n)d 个密钥。": "Revoked %(n)d key(s).",
    "没有代码为 %(code)s 的服务（分类）。": "There is no service (category) with the code %(code)s.",
    "部件标识码：部件上标注的16位编码（如有）": "Component ID: the 16-digit code marked on the component (if any)",
    "16位数字，如 4401060101000001": "16 digits, e.g. 4401060101000001",
    "服务 %(service)s 没有附加字段 %(code)s。": "Service %(service)s has no attribute %(code)s.",
    "此项必填。": "This is required.",
    "只能填一个值，收到 %(n)d 个。": "Only one value is allowed; got %(n)d.",
    "%(values)s 不在选项中（可选：%(keys)s）。": "%(values)s is not among the choices (choose from: %(keys)s).",
    "应为数字。": "Must be a number.",
    "应为 ISO 8601 日期时间，如 2026-11-23T10:00:00+08:00。": "Must be an ISO 8601 date-time, e.g. 2026-11-23T10:00:00+08:00.",
    "最多 %(max)d 个字符。": "At most %(max)d characters.",
    "应为单行文字。": "Must be a single line of text.",
    "gridmgmt 网格化管理平台：问题上报与进度查询。": "gridmgmt city grid management: report problems and follow their progress.",
    "提交上报需要 API 密钥：由本市管理员在后台“Open311客户端应用”中为每个应用签发（或运行 manage.py issue_open311_key），每个应用有自己的渠道和受理范围。": "Filing a request needs an API key: the city's administrators issue one per application in the admin under 'Open311 client applications' (or with manage.py issue_open311_key); each application has its own channel and intake area.",
    "缺少 api_key：提交上报须提供本市签发的 API 密钥。": "api_key is missing: filing a request needs an API key issued by the city.",
    "api_key 无效：请核对密钥，或向本市管理员申请。": "api_key is not valid: check the key, or ask the city's administrators for one.",
    "api_key 已于 %(date)s 吊销：请向本市管理员申请新密钥。": "api_key was revoked on %(date)s: ask the city's administrators for a new key.",
    "缺少 service_code：请先从 services 列表中选择服务。": "service_code is missing: choose a service from the services list first.",
    "lat 应在 -90 到 90 之间，long 应在 -180 到 180 之间（WGS 84）。": "lat must be between -90 and 90 and long between -180 and 180 (WGS 84).",
    "缺少位置：请提供 lat 和 long，或 address_string，或 address_id。": "No location: give lat and long, or address_string, or address_id.",
    "first_name 与 last_name 合计最多 %(max)d 个字符。": "first_name and last_name together take at most %(max)d characters.",
    "media_url 应为 http 或 https 网址。": "media_url must be an http or https URL.",
    "email 不是有效的电子邮箱地址。": "email is not a valid e-mail address.",
    "没有编码为 %(code)s 的标准地址。": "There is no standard address with the code %(code)s.",
    "经纬度 %(lat).6f, %(long).6f": "lat/long %(lat).6f, %(long).6f",
    "无法定位地址“%(text)s”：请提供 lat 和 long。": "The address '%(text)s' could not be located: give lat and long.",
    "无法确定地址“%(text)s”的位置（可能是：%(options)s）：请写得更完整，或提供 lat 和 long，或 address_id。": "The address '%(text)s' is ambiguous (it may be: %(options)s): write it in full, or give lat and long, or address_id.",
    "该位置不在此应用的受理范围（%(area)s）内。": "The location is outside this application's intake area (%(area)s).",
    "已受理，编号 %(id)d。": "Received, number %(id)d.",
    "附近已有同类问题在处理（编号 %(ids)s），可能合并处理。": "A problem of the same kind nearby is already being handled (number %(ids)s); the two may be merged.",
    "联系人及联系方式": "Contact person and details",
    "受理范围": "Intake area",
    "应用只能在此区域内上报，用密钥查询时只看到此区域内的案件。": "The application may file requests only in this area, and reading with its key shows only the cases in it.",
    "受理单位": "Receiving unit",
    "以哪个热线中心的名义受理此应用的上报。": "The hotline centre in whose name this application's requests are received.",
    "服务账号": "Service account",
    "创建时间": "Created",
    "客户端应用": "Client application",
    "备注": "Note",
    "密钥前缀": "Key prefix",
    "签发时间": "Issued",
    "签发人": "Issued by",
    "吊销时间": "Revoked",
    "最近使用": "Last used",
    "单行文字": "Single line of text",
    "数字": "Number",
    "日期时间": "Date and time",
    "多行文字": "Text",
    "单选": "Single choice",
    "多选": "Multiple choice",
    "字母开头，字母、数字或下划线，如 plate_number。": "Starts with a letter; letters, digits or underscores, e.g. plate_number.",
    "提示": "Prompt",
    "数据类型": "Data type",
    "格式说明": "Format description",
    "必填": "Required",
    "需要填写": "To be filled in",
    "选项": "Choices",
    "单选、多选时填写，每行一项：代码=名称，如 large=大件垃圾。": "For single and multiple choice, one per line: code=name, e.g. large=大件垃圾.",
    "Open311附加字段": "Open311 attribute",
    "代码须以字母开头，只含字母、数字和下划线。": "A code starts with a letter and holds only letters, digits and underscores.",
    "component_code 是部件类服务自带的字段，请换一个代码。": "component_code is a built-in attribute of component services; choose another code.",
    "单选、多选须逐行填写“代码=名称”。": "Single and multiple choice need one 'code=name' per line.",
    "选项代码不能重复。": "Choice codes must not repeat.",
    "只有单选、多选需要选项。": "Only single and multiple choice take choices.",
    "电子邮箱": "E-mail",
    "设备编号": "Device ID",
    "账号": "Account ID",
    "提交时间": "Submitted",
    "Open311上报": "Open311 request",
    "%(name)s 最多 %(max)d 个字符，收到 %(n)d 个。": "%(name)s takes at most %(max)d characters; got %(n)d.",
    "%(name)s=%(value)s 不是带时区的 W3C 日期时间，例如 2026-11-23T10:00:00+08:00 或 2026-11-23T02:00:00Z。": "%(name)s=%(value)s is not a W3C date-time with a time zone, e.g. 2026-11-23T10:00:00+08:00 or 2026-11-23T02:00:00Z.",
    "%(name)s 应为数值，收到 %(value)s。": "%(name)s must be a number; got %(value)s.",
    "%(name)s 应为 %(low)d 到 %(high)d 之间的整数，收到 %(value)s。": "%(name)s must be a whole number from %(low)d to %(high)d; got %(value)s.",
    "%(name)s 应为 true 或 false。": "%(name)s must be true or false.",
    "无法识别的参数 %(key)s：附加字段应写作 attribute[代码]=值。": "Unknown parameter %(key)s: attributes are written attribute[code]=value.",
    "没有 .%(suffix)s 格式：请用 .xml 或 .json。": "There is no .%(suffix)s format: use .xml or .json.",
    "已受理，等待立案审核": "Received, waiting to be filed",
    "已立案，等待派遣": "Filed, waiting to be dispatched",
    "已派遣，等待处置单位签收": "Dispatched, waiting for the responsible unit to sign for it",
    "处置单位处置中": "Being handled by the responsible unit",
    "派遣有误已退回，等待重新派遣": "Returned as wrongly dispatched, waiting to be dispatched again",
    "已处置，等待现场核查": "Handled, waiting for on-site verification",
    "核查未通过，返工中": "Failed verification, being reworked",
    "已注销：不符合立案条件": "Cancelled: not a case to be filed",
    "与 %(id)s 号为同一问题，已合并处理，请查询该编号": "The same problem as number %(id)s, merged into it: follow that number",
    "同一问题的其他上报已合并至此": "Other reports of the same problem were merged into this one",
    "即将超期": "Close to its deadline",
    "已超期，上一级催办": "Overdue, chased by the tier above",
    "超期未处置，市级督办": "Overdue and not handled, supervised by the city",
    "status 只能是 open 或 closed（可用逗号分隔两者）。": "status must be open or closed (or both, separated by a comma).",
    "service_request_id 一次最多 %(max)d 个。": "At most %(max)d service_request_id values at a time.",
    "service_request_id 应为数字编号，收到 %(ids)s。": "service_request_id must be numbers; got %(ids)s.",
    "end_date 早于 start_date。": "end_date is before start_date.",
    "start_date 到 end_date 最多 90 天。": "start_date to end_date spans at most 90 days.",
    "（已超期）": " (overdue)",
    "处置时限 %(n)d %(unit)s，自派遣起计。": "Time limit %(n)d %(unit)s, counted from dispatch.",
    "已为“%(name)s”签发新的 API 密钥：": "A new API key was issued for '%(name)s':",
    "密钥只显示这一次，本平台只保存其摘要，无法再次查看。请立即复制并安全地交给应用的开发者；遗失后请吊销并重新签发。": "The key is shown this once: only its digest is kept, and it cannot be shown again. Copy it now and hand it safely to the application's developers; if it is lost, revoke it and issue a new one.",
    "接口地址": "Endpoint",
    "返回密钥列表": "Back to the keys",
    "此地址不支持 %(method)s 请求（可用：%(allowed)s）。": "This address does not take %(method)s requests (it takes: %(allowed)s).",
    "请以表单编码提交（Content-Type: %(form)s），收到 %(type)s。": "Send the request form-encoded (Content-Type: %(form)s); got %(type)s.",
    "没有令牌 %(token)s：本平台实时受理，提交后直接返回 service_request_id。": "There is no token %(token)s: requests are received at once, and filing returns the service_request_id directly.",
    "没有这个地址：/open311/v2/%(path)s（见 discovery.xml）。": "No such address: /open311/v2/%(path)s (see discovery.xml).",
    "lat 和 long 须同时提供。": "lat and long must be given together.",
    "Open311客户端应用": "Open311 client applications",
    "Open311密钥": "Open311 keys",
    "代码": "Code",
    "核查通过，等待结案": "Verified, waiting to be closed",
    "没有编号为 %(id)s 的服务请求。": "There is no service request numbered %(id)s.",
    "试用": "Try it",
}

CHINESE = {
    "gridmgmt": "gridmgmt",
    "bbox must be minlon,minlat,maxlon,maxlat.": "bbox 格式应为 minlon,minlat,maxlon,maxlat。",
    "bbox must be four numbers.": "bbox 应为四个数字。",
    "bbox must be four finite numbers.": "bbox 应为四个有限数字。",
    "bbox longitudes must satisfy -180 <= minlon < maxlon <= 180.": "bbox 经度应满足 -180 <= minlon < maxlon <= 180。",
    "bbox latitudes must satisfy -90 <= minlat < maxlat <= 90.": "bbox 纬度应满足 -90 <= minlat < maxlat <= 90。",
    "Must be a %(length)d-digit code.": "应为 %(length)d 位代码。",
    "No %(parameter)s with code %(code)s.": "没有代码为 %(code)s 的 %(parameter)s。",
    "Must be a 2-digit major or 4-digit subcategory code.": "应为 2 位大类代码或 4 位小类代码。",
    "No component category with code %s.": "没有代码为 %s 的部件分类。",
    "Must be an integer of at least %d.": "应为不小于 %d 的整数。",
    # the admin's own fallback titles (as in Django's zh_Hans catalogue)
    "Django site admin": "Django 站点管理员",
    "Django administration": "Django 管理",
    "Home": "首页",
}


def fill(po: Path, table: dict[str, str]) -> list[str]:
    """Write translations into `po`; returns the message ids still untranslated."""
    text = po.read_text(encoding="utf-8")
    missing = []

    def settled(comments: str) -> str:
        # A filled entry is no longer fuzzy: msgfmt leaves fuzzy entries out of the .mo.
        # Drop the flag and makemessages' guess at the previous msgid (#|), keep the rest.
        lines = []
        for line in comments.splitlines(keepends=True):
            if line.startswith("#|"):
                continue
            if line.startswith("#,"):
                flags = [f.strip() for f in line[2:].split(",") if f.strip() != "fuzzy"]
                if not flags:
                    continue
                line = "#, " + ", ".join(flags) + "\n"
            lines.append(line)
        return "".join(lines)

    def translate(match: re.Match[str]) -> str:
        comments, msgid = match.group(1), match.group(2)
        if msgid == "":
            return settled(comments) + match.group(0)[len(comments) :]
        if msgid in table:
            return f'{settled(comments)}msgid "{msgid}"\nmsgstr "{table[msgid]}"'
        chinese = re.search(r"[\u4e00-\u9fff]", msgid) is not None
        if chinese == (table is CHINESE):
            return match.group(0)  # written in this catalogue's own language
        missing.append(msgid)
        return match.group(0)

    text = re.sub(r'^((?:#.*\n)*)msgid "(.*)"\nmsgstr ".*"', translate, text, flags=re.M)
    po.write_text(text, encoding="utf-8")
    return missing


def main() -> None:
    missing = fill(LOCALE / "en/LC_MESSAGES/django.po", ENGLISH)
    missing += fill(LOCALE / "zh_Hans/LC_MESSAGES/django.po", CHINESE)
    if missing:
        raise SystemExit("untranslated: " + ", ".join(missing))
    subprocess.run(["msgfmt", "--version"], check=True, capture_output=True)
    for po in LOCALE.glob("*/LC_MESSAGES/django.po"):
        subprocess.run(["msgfmt", "-o", str(po.with_suffix(".mo")), str(po)], check=True)


if __name__ == "__main__":
    main()
