"""Identity fields: 18-digit citizen ID numbers (GB 11643, ISO 7064 MOD 11-2), names, phones."""

from __future__ import annotations

import numpy as np

from phwarehouse.platform.dates import ymd

WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
CHECK_CHARS = "10X98765432"
#: Address codes of people born outside the district (migrants), mostly elsewhere in Henan.
OTHER_ADDRESS_CODES = np.array(
    [
        410102,
        410103,
        410105,
        410122,
        410181,
        410322,
        410526,
        410724,
        410928,
        411302,
        411421,
        411522,
        411623,
        411722,
        412722,
        130682,
        340121,
        370522,
        420117,
        610424,
    ],
    dtype=np.int64,
)
SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
SURNAME_P = np.linspace(3.0, 0.3, len(SURNAMES))
GIVEN_CHARS = list(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国文辉鹏飞宇浩然欣怡子涵梓轩一诺雨桐晨阳思远嘉豪佳琪振海春梅金凤志刚秋菊"
)


def check_digit_of(body: np.ndarray) -> np.ndarray:
    """Check characters for 17-digit integer bodies."""
    digits = np.empty((len(body), 17), dtype=np.int64)
    rest = body.astype(np.int64).copy()
    for pos in range(16, -1, -1):
        digits[:, pos] = rest % 10
        rest //= 10
    idx = (digits @ WEIGHTS) % 11
    return np.array(list(CHECK_CHARS))[idx]


def is_valid_id(id_number: str | None) -> bool:
    """True when an 18-digit ID has a valid MOD 11-2 check character (``x`` accepted)."""
    if not id_number or len(id_number) != 18 or not id_number[:17].isdigit():
        return False
    total = sum(int(c) * int(w) for c, w in zip(id_number[:17], WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11] == id_number[17].upper()


def make_id_numbers(
    rng: np.random.Generator, birth: np.ndarray, sex: np.ndarray, local: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """ID numbers (object array) and their 17-digit bodies for persons with given birth days,
    sex codes (1 male / 2 female) and whether born in the district (address code 410108)."""
    n = len(birth)
    addr = np.where(
        local, 410108, OTHER_ADDRESS_CODES[rng.integers(0, len(OTHER_ADDRESS_CODES), n)]
    )
    y, m, d = ymd(birth)
    seq = rng.integers(0, 500, n) * 2 + np.where(sex == 1, 1, 0)  # odd = male
    body = addr * 10**11 + (y * 10000 + m * 100 + d) * 1000 + seq
    checks = check_digit_of(body)
    ids = np.array(
        [f"{b:017d}{c}" for b, c in zip(body.tolist(), checks.tolist(), strict=True)], dtype=object
    )
    return ids, body


def corrupt_check_digit(id_number: str) -> str:
    """Same body, a wrong check character."""
    right = id_number[17].upper()
    wrong = CHECK_CHARS[(CHECK_CHARS.index(right) + 3) % 11]
    return id_number[:17] + wrong


def make_names(rng: np.random.Generator, n: int) -> np.ndarray:
    sp = SURNAME_P / SURNAME_P.sum()
    sur = rng.choice(len(SURNAMES), n, p=sp)
    g1 = rng.integers(0, len(GIVEN_CHARS), n)
    g2 = rng.integers(0, len(GIVEN_CHARS), n)
    two = rng.random(n) < 0.7
    return np.array(
        [
            SURNAMES[s] + GIVEN_CHARS[a] + (GIVEN_CHARS[b] if t else "")
            for s, a, b, t in zip(sur.tolist(), g1.tolist(), g2.tolist(), two.tolist(), strict=True)
        ],
        dtype=object,
    )


def make_phones(rng: np.random.Generator, n: int) -> np.ndarray:
    prefixes = np.array(
        [
            130,
            131,
            132,
            135,
            136,
            137,
            138,
            139,
            150,
            151,
            152,
            155,
            156,
            158,
            159,
            176,
            177,
            180,
            182,
            186,
            187,
            188,
            189,
            199,
        ]
    )
    pre = prefixes[rng.integers(0, len(prefixes), n)]
    rest = rng.integers(0, 10**8, n)
    return np.array(
        [f"{p}{r:08d}" for p, r in zip(pre.tolist(), rest.tolist(), strict=True)], dtype=object
    )
