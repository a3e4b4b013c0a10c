"""The licences an indicator's data may be reused under, and who besides operators and admins may read it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from situationroom.configfile import Strict

LicenceId = Literal["kogl-1", "kogl-2", "kogl-3", "kogl-4", "internal", "third-party"]


@dataclass(frozen=True)
class Licence:
    """Terms under which an indicator's data may be reused; `open` licences let anyone reuse it."""

    id: str
    name_ko: str
    name_en: str
    url: str | None
    open: bool


LICENCES: dict[str, Licence] = {lic.id: lic for lic in (
    Licence("kogl-1", "공공누리 제1유형 (출처표시)", "KOGL Type 1 (attribution)",
            "https://www.kogl.or.kr/info/licenseType1.do", True),
    Licence("kogl-2", "공공누리 제2유형 (출처표시, 상업적 이용금지)", "KOGL Type 2 (attribution, non-commercial)",
            "https://www.kogl.or.kr/info/licenseType2.do", True),
    Licence("kogl-3", "공공누리 제3유형 (출처표시, 변경금지)", "KOGL Type 3 (attribution, no derivatives)",
            "https://www.kogl.or.kr/info/licenseType3.do", True),
    Licence("kogl-4", "공공누리 제4유형 (출처표시, 상업적 이용금지, 변경금지)",
            "KOGL Type 4 (attribution, non-commercial, no derivatives)",
            "https://www.kogl.or.kr/info/licenseType4.do", True),
    Licence("internal", "행정 내부자료 (외부 제공 불가)", "Internal administrative data (not for release)",
            None, False),
    Licence("third-party", "제3자 제공자료 (이용 약정, 재배포 불가)",
            "Third-party data under agreement (no redistribution)", None, False),
)}
"""The licences an indicator may name: the four 공공누리 (Korea Open Government Licence) types, the city's internal
data, and data a company provides under an agreement."""

Audience = Literal["public", "officials", "departments"]


class Restriction(Strict):
    """Who besides operators and admins may read a restricted indicator: the staff of these departments."""

    departments: list[str] = Field(min_length=1)
    """Department ids of seeds/departments.yaml."""
    reason_ko: str | None = None
    reason_en: str | None = None

    def admits(self, department: str | None) -> bool:
        """Whether the staff of `department` may read the indicator (operators and admins always may)."""
        return department is not None and department in self.departments
