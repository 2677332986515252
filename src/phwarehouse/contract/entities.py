"""The platform contract: every entity of the platform, declared once.

Per entity: its fields (name, type, 中文表头, WS 363 identifier), its contract keys, and which
fields are measurements (with the plausibility range staging applies, ``plausible_<name>_min`` /
``_max`` in dbt_project.yml), personal identifiers (never carried past staging) or references to
a resident's EHR, and which entities are dynamic EHR records (spec §2, EHR_USAGE). The simulator
(``phwarehouse.platform``), the ingestion, ``docs/platform_schema.md``, the dbt sources and the
staging models are generated from or driven by it (``python -m phwarehouse.contract.generate``).

Every record carries the envelope fields ``record_id``, ``version``, ``updated_at`` and
``deleted``; a tombstone carries only the envelope (``deleted: true``). ``CONTRACT_KEYS`` names,
per entity, the fields without which a record is a contract violation (quarantined downstream).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

#: Field types: string, integer, number, boolean, date (YYYY-MM-DD), datetime (ISO 8601 UTC),
#: month (YYYY-MM).
TYPES = ("string", "integer", "number", "boolean", "date", "datetime", "month")


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    required: bool
    zh: str
    ws363: str | None = None
    description: str = ""
    #: a measured value (vital sign, anthropometry, laboratory result)
    measurement: bool = False
    #: the plausibility range staging applies (vars plausible_<name>_min / _max): the field is
    #: kept as <field>_raw and <field> is null when implausible (dbt macro plausible_or_null)
    plausibility: str | None = None
    #: a personal identifier (ID number, name, phone): staging does not carry it downstream
    personal: bool = False
    #: the record_id of a resident's EHR (raw.residents): the record concerns that person (dbt
    #: tracks changes per person through these fields, stg_platform__record_versions)
    person_ref: bool = False


@dataclass(frozen=True)
class ContractKeys:
    record_id: str
    person_ref: str | None
    event_date: str | None


@dataclass(frozen=True)
class Entity:
    name: str
    zh: str
    fields: tuple[Field, ...]  # envelope first, then payload
    keys: ContractKeys
    #: reference data that changes rarely: no freshness check on its raw table
    reference: bool = False
    #: a dynamic EHR record (spec §2, EHR_USAGE: follow-ups, exams, maternal and child services,
    #: vaccinations); contracts, registry cards and death registrations are not
    dynamic_record: bool = False

    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def payload_fields(self) -> tuple[Field, ...]:
        return self.fields[len(ENVELOPE) :]

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    def person_refs(self) -> list[str]:
        """The payload fields naming a resident's EHR, in contract order."""
        return [f.name for f in self.payload_fields() if f.person_ref]


def F(name: str, type_: str, required: bool, zh: str, ws: str | None = None, desc: str = ""):
    assert type_ in TYPES, type_
    return Field(name, type_, required, zh, ws, desc)


def M(name: str, type_: str, zh: str, ws: str | None = None, plausibility: str | None = None):
    """An optional measurement; `plausibility` names its range (vars plausible_<name>_*)."""
    assert type_ in ("integer", "number"), type_
    return Field(name, type_, False, zh, ws, "", True, plausibility)


def P(name: str, required: bool, zh: str, ws: str | None = None, desc: str = ""):
    """A personal identifier (text): kept in raw, not carried past staging."""
    return Field(name, "string", required, zh, ws, desc, personal=True)


ENVELOPE = (
    F("record_id", "string", True, "记录ID", None, "stable platform id; versions share it"),
    F("version", "integer", True, "版本号", None, "1 for the first version"),
    F("updated_at", "datetime", True, "更新时间", None, "when the platform last changed it (UTC)"),
    F("deleted", "boolean", True, "删除标记", None, "true for a tombstone"),
)

PERSON = (
    replace(
        F(
            "person_record_id",
            "string",
            True,
            "居民档案记录ID",
            None,
            "record_id of the resident's EHR",
        ),
        person_ref=True,
    ),
    P("id_number", False, "身份证件号码", "DE02.01.030.00", "copied from the EHR"),
)
FACILITY = F("facility_code", "string", True, "服务机构编码", None, "org_unit_code that served")
DOCTOR = F("doctor_name", "string", False, "责任医生")
SBP = M("sbp", "integer", "收缩压(mmHg)", "DE04.10.174.00", "sbp")
DBP = M("dbp", "integer", "舒张压(mmHg)", "DE04.10.176.00", "dbp")
HEIGHT = M("height_cm", "number", "身高(cm)", "DE04.10.167.00", "height_cm")
WEIGHT = M("weight_kg", "number", "体重(kg)", "DE04.10.188.00", "weight_kg")
FBG = M("fasting_glucose_mmol_l", "number", "空腹血糖(mmol/L)", None, "fbg")
HR = M("heart_rate", "integer", "心率(次/分)", "DE04.10.118.00")
HEMOGLOBIN = M("hemoglobin_g_l", "number", "血红蛋白(g/L)")
WBC = M("wbc_10e9_l", "number", "白细胞(×10^9/L)")
PLATELETS = M("platelets_10e9_l", "number", "血小板(×10^9/L)")
ADHERENCE = F("medication_adherence", "string", False, "服药依从性", None, "规律/间断/不服药")
MODE = F("followup_mode", "string", True, "随访方式", None, "face_to_face | telephone")


def _entity(
    name: str,
    zh: str,
    payload: tuple[Field, ...],
    person: str | None,
    event: str | None,
    dynamic: bool = False,
) -> Entity:
    return Entity(
        name,
        zh,
        ENVELOPE + payload,
        ContractKeys("record_id", person, event),
        dynamic_record=dynamic,
    )


def _registry(name: str, zh: str, extra: tuple[Field, ...] = ()) -> Entity:
    return _entity(
        name,
        zh,
        (
            *PERSON,
            FACILITY,
            F("diagnosed_on", "date", False, "确诊日期"),
            F("enrolled_on", "date", True, "纳入管理日期"),
            *extra,
            F("withdrawn_on", "date", False, "终止管理日期"),
            F("withdraw_reason", "string", False, "终止管理原因", None, "死亡/迁出/其他"),
        ),
        "person_record_id",
        "enrolled_on",
    )


ENTITIES: dict[str, Entity] = {}


def _add(entity: Entity) -> None:
    ENTITIES[entity.name] = entity


_add(
    replace(
        _entity(
            "org_units",
            "机构信息",
            (
                F("org_unit_code", "string", True, "机构编码", None, "equals record_id"),
                F("name", "string", True, "机构名称"),
                F("level", "string", True, "机构级别", None, "district/township/facility/station"),
                F("parent_code", "string", False, "上级机构编码"),
                F("division_code", "string", True, "行政区划代码"),
                F("opened_on", "date", True, "启用日期"),
                F("closed_on", "date", False, "停用日期"),
            ),
            None,
            None,
        ),
        reference=True,
    )
)

_add(
    _entity(
        "residents",
        "居民健康档案",
        (
            P("id_number", True, "身份证件号码", "DE02.01.030.00", "18 digits, GB 11643"),
            P("name", True, "姓名", "DE02.01.039.00"),
            F("sex_code", "string", True, "性别代码", "DE02.01.040.00", "GB/T 2261.1: 0/1/2/9"),
            F("birth_date", "date", True, "出生日期", "DE02.01.005.01"),
            P("phone", False, "本人电话号码", "DE02.01.010.00"),
            F("residency_type", "string", True, "常住类型", None, "户籍/非户籍"),
            F("township_code", "string", True, "所属乡镇街道编码"),
            F("managing_facility_code", "string", True, "管理机构编码"),
            F("responsible_doctor", "string", False, "责任医生"),
            F("ehr_created_on", "date", True, "建档日期"),
            F("ehr_closed_on", "date", False, "结案日期"),
            F("close_reason", "string", False, "结案原因", None, "死亡/迁出"),
        ),
        None,
        "ehr_created_on",
    )
)

_add(
    _entity(
        "family_doctor_contracts",
        "家庭医生签约",
        (
            *PERSON,
            FACILITY,
            F("team_name", "string", True, "签约团队"),
            F("service_package", "string", False, "服务包", None, "基础包/个性化包"),
            F("start_date", "date", True, "签约开始日期"),
            F("end_date", "date", True, "签约结束日期"),
        ),
        "person_record_id",
        "start_date",
    )
)

_add(_registry("htn_registry", "高血压患者管理卡"))
_add(_registry("t2d_registry", "2型糖尿病患者管理卡"))
_add(
    _registry(
        "smd_registry",
        "严重精神障碍患者管理卡",
        (
            F("diagnosis", "string", True, "诊断", None, "one of the 6 severe mental disorders"),
            F("living_at_home", "boolean", True, "是否居家"),
        ),
    )
)

_add(
    _entity(
        "htn_followups",
        "高血压患者随访",
        (
            *PERSON,
            FACILITY,
            F("followup_date", "date", True, "随访日期"),
            MODE,
            SBP,
            DBP,
            HR,
            WEIGHT,
            ADHERENCE,
            F("next_followup_date", "date", False, "下次随访日期"),
            DOCTOR,
        ),
        "person_record_id",
        "followup_date",
        dynamic=True,
    )
)

_add(
    _entity(
        "t2d_followups",
        "2型糖尿病患者随访",
        (
            *PERSON,
            FACILITY,
            F("followup_date", "date", True, "随访日期"),
            MODE,
            FBG,
            SBP,
            DBP,
            WEIGHT,
            ADHERENCE,
            F("next_followup_date", "date", False, "下次随访日期"),
            DOCTOR,
        ),
        "person_record_id",
        "followup_date",
        dynamic=True,
    )
)

_add(
    _entity(
        "smd_followups",
        "严重精神障碍患者随访",
        (
            *PERSON,
            FACILITY,
            F("followup_date", "date", True, "随访日期"),
            MODE,
            F("danger_level", "integer", False, "危险性评估(0-5级)"),
            F("stability", "string", False, "病情稳定性", None, "稳定/基本稳定/不稳定"),
            ADHERENCE,
            DOCTOR,
        ),
        "person_record_id",
        "followup_date",
        dynamic=True,
    )
)

_add(
    _entity(
        "health_exams",
        "健康体检",
        (
            *PERSON,
            FACILITY,
            F("exam_date", "date", True, "体检日期"),
            F("lifestyle_assessment", "string", False, "生活方式评估", None, "吸烟/饮酒/锻炼/饮食"),
            F(
                "self_care_score",
                "integer",
                False,
                "生活自理能力评分",
                None,
                "0-19; null = not assessed",
            ),
            SBP,
            DBP,
            HEIGHT,
            WEIGHT,
            M("waist_cm", "number", "腰围(cm)", "DE04.10.239.00"),
            replace(HEMOGLOBIN, description="blood routine"),
            replace(WBC, description="blood routine"),
            replace(PLATELETS, description="blood routine"),
            F("urine_protein", "string", False, "尿蛋白", None, "urine routine: 阴性/±/+/++"),
            F("urine_glucose", "string", False, "尿糖", None, "urine routine"),
            M("alt_u_l", "number", "血清谷丙转氨酶(U/L)"),
            M("ast_u_l", "number", "血清谷草转氨酶(U/L)"),
            M("total_bilirubin_umol_l", "number", "总胆红素(μmol/L)"),
            M("creatinine_umol_l", "number", "血清肌酐(μmol/L)"),
            M("urea_mmol_l", "number", "血尿素(mmol/L)"),
            FBG,
            M("tc_mmol_l", "number", "总胆固醇(mmol/L)"),
            M("tg_mmol_l", "number", "甘油三酯(mmol/L)"),
            M("ldl_c_mmol_l", "number", "低密度脂蛋白胆固醇(mmol/L)"),
            M("hdl_c_mmol_l", "number", "高密度脂蛋白胆固醇(mmol/L)"),
            F("ecg_result", "string", False, "心电图", None, "正常/异常: …"),
            F("abdominal_ultrasound_result", "string", False, "腹部B超", None, "正常/异常: …"),
            F("health_guidance_given", "boolean", False, "健康指导"),
            F("health_guidance", "string", False, "健康指导内容"),
            F("tcm_constitution", "string", False, "中医体质辨识", None, "9 constitution types"),
            F("tcm_guidance", "string", False, "中医药保健指导"),
        ),
        "person_record_id",
        "exam_date",
        dynamic=True,
    )
)

_add(
    _entity(
        "pregnancies",
        "孕产妇保健手册(建册)",
        (
            *PERSON,
            FACILITY,
            F("lmp", "date", False, "末次月经日期"),
            F("registered_on", "date", True, "建册日期"),
            M("gestational_week_at_registration", "integer", "建册孕周", None, "gestational_week"),
            F("expected_delivery_date", "date", False, "预产期"),
            F("gravidity", "integer", False, "孕次"),
            F("parity", "integer", False, "产次"),
            F("closed_on", "date", False, "结案日期"),
            F("close_reason", "string", False, "结案原因", None, "分娩/流产/死亡/迁出"),
        ),
        "person_record_id",
        "registered_on",
        dynamic=True,
    )
)

_add(
    _entity(
        "prenatal_exams",
        "产前检查",
        (
            *PERSON,
            F("pregnancy_record_id", "string", True, "孕册记录ID"),
            FACILITY,
            F("exam_date", "date", True, "检查日期"),
            F("exam_number", "integer", False, "产检次数序号"),
            M("gestational_week", "integer", "孕周"),
            SBP,
            DBP,
            WEIGHT,
            HEMOGLOBIN,
        ),
        "person_record_id",
        "exam_date",
        dynamic=True,
    )
)

_add(
    _entity(
        "deliveries",
        "分娩记录",
        (
            *PERSON,
            F(
                "pregnancy_record_id",
                "string",
                False,
                "孕册记录ID",
                None,
                "null if never registered",
            ),
            F("delivery_date", "date", True, "分娩日期"),
            F("delivery_institution", "string", False, "助产机构"),
            F("delivery_mode", "string", False, "分娩方式", None, "顺产/剖宫产/助产"),
            M("gestational_week", "integer", "分娩孕周"),
            F("outcome", "string", True, "妊娠结局", None, "活产/死产"),
            F("live_births", "integer", True, "活产数", None, "2 for live twins"),
            F("discharge_date", "date", False, "出院日期"),
        ),
        "person_record_id",
        "delivery_date",
        dynamic=True,
    )
)

_add(
    _entity(
        "postpartum_visits",
        "产后访视",
        (
            *PERSON,
            F("delivery_record_id", "string", False, "分娩记录ID"),
            FACILITY,
            F("visit_date", "date", True, "访视日期"),
            SBP,
            DBP,
            F("breastfeeding", "string", False, "母乳喂养", None, "纯母乳/混合/人工"),
        ),
        "person_record_id",
        "visit_date",
        dynamic=True,
    )
)

_add(
    _entity(
        "postpartum_42d_checks",
        "产后42天健康检查",
        (
            *PERSON,
            F("delivery_record_id", "string", False, "分娩记录ID"),
            FACILITY,
            F("check_date", "date", True, "检查日期"),
            F("recovered", "boolean", False, "已恢复"),
        ),
        "person_record_id",
        "check_date",
        dynamic=True,
    )
)

_add(
    _entity(
        "newborn_visits",
        "新生儿家庭访视",
        (
            replace(F("person_record_id", "string", True, "新生儿档案记录ID"), person_ref=True),
            P("id_number", False, "新生儿身份证件号码", "DE02.01.030.00"),
            replace(
                F("mother_person_record_id", "string", False, "母亲档案记录ID"), person_ref=True
            ),
            P("mother_id_number", False, "母亲身份证件号码"),
            FACILITY,
            F("visit_date", "date", True, "访视日期"),
            F("birth_date", "date", False, "出生日期", "DE02.01.005.01"),
            M("birth_weight_g", "integer", "出生体重(g)", None, "birth_weight_g"),
            M("gestational_week_at_birth", "integer", "出生孕周"),
            DOCTOR,
        ),
        "person_record_id",
        "visit_date",
        dynamic=True,
    )
)

_add(
    _entity(
        "child_health_checks",
        "儿童健康检查",
        (
            *PERSON,
            FACILITY,
            F("check_date", "date", True, "检查日期"),
            F("age_months", "integer", False, "月龄"),
            replace(HEIGHT, plausibility=None),  # the plausible range is of adults
            WEIGHT,
            M("head_circumference_cm", "number", "头围(cm)"),
            HEMOGLOBIN,
            F("development_assessment", "string", False, "发育评估", None, "通过/未通过"),
        ),
        "person_record_id",
        "check_date",
        dynamic=True,
    )
)

_add(
    _entity(
        "child_tcm_guidance",
        "儿童中医药健康管理",
        (
            *PERSON,
            FACILITY,
            F("guidance_date", "date", True, "服务日期"),
            F("age_months", "integer", False, "月龄"),
            F("guidance_content", "string", True, "中医药健康指导内容"),
        ),
        "person_record_id",
        "guidance_date",
        dynamic=True,
    )
)

_add(
    _entity(
        "vaccinations",
        "预防接种",
        (
            *PERSON,
            FACILITY,
            F("vaccine_code", "string", True, "疫苗编码"),
            F("vaccine_name", "string", True, "疫苗名称"),
            F("dose_number", "integer", True, "剂次"),
            F("vaccination_date", "date", True, "接种日期"),
            F("batch_number", "string", False, "疫苗批号"),
        ),
        "person_record_id",
        "vaccination_date",
        dynamic=True,
    )
)

_add(
    _entity(
        "deaths",
        "死亡登记",
        (
            *PERSON,
            F("death_date", "date", True, "死亡日期"),
            F("underlying_cause_icd10", "string", True, "根本死因ICD-10编码"),
            F("underlying_cause_name", "string", False, "根本死因名称"),
            F("place_of_death", "string", False, "死亡地点", None, "医院/家中/其他"),
            F(
                "pregnancy_related",
                "boolean",
                False,
                "孕期或产后42天内死亡",
                None,
                "died during pregnancy or within 42 days after delivery (any cause)",
            ),
            F("reported_on", "date", False, "报告日期"),
        ),
        "person_record_id",
        "death_date",
    )
)

_add(
    _entity(
        "report_submissions",
        "月度工作报表报送",
        (
            F("facility_code", "string", True, "报送机构编码"),
            F("report_month", "month", True, "报表月份"),
            F("submitted_at", "datetime", True, "报送时间"),
            F("reporter_name", "string", False, "报送人"),
        ),
        None,
        "report_month",
    )
)

ENTITY_NAMES: tuple[str, ...] = tuple(ENTITIES)
CONTRACT_KEYS: dict[str, ContractKeys] = {n: e.keys for n, e in ENTITIES.items()}


def contract_key_fields(entity: str) -> list[str]:
    """Field names that must be present and non-null on a non-tombstone record."""
    k = CONTRACT_KEYS[entity]
    return [f for f in (k.record_id, k.person_ref, k.event_date) if f]


def zh_headers(entity: str) -> list[str]:
    return [f.zh for f in ENTITIES[entity].fields]
