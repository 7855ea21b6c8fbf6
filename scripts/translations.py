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
}


def fill(po: Path, table: dict[str, str]) -> list[str]:
    """Write translations into `po`; returns the message ids still untranslated."""
    text = po.read_text(encoding="utf-8")
    missing = []

    def translate(match: re.Match[str]) -> str:
        msgid = match.group(1)
        if msgid == "":
            return match.group(0)
        if msgid in table:
            return f'msgid "{msgid}"\nmsgstr "{table[msgid]}"'
        chinese = re.search(r"[\u4e00-\u9fff]", msgid) is not None
        if chinese == (table is CHINESE):
            return match.group(0)  # written in this catalogue's own language
        missing.append(msgid)
        return match.group(0)

    text = re.sub(r'^msgid "(.*)"\nmsgstr ".*"', translate, text, flags=re.M)
    text = text.replace("#, fuzzy\n", "", 1)
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
