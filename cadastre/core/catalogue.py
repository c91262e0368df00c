"""The rule catalogue: every finding's rule id, its severity and what it means (qa-and-planning.md).

Checks look their severity up here, so a rule's severity is stated once. ``cadastre rules`` lists the catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Rule", "CATALOGUE", "rule", "PLANNING_PREFIX", "SEVERITY_NAMES", "STAGE_NAMES", "AREA_KINDS",
           "REGISTERED_BEFORE"]

#: severities of findings, as people read them
SEVERITY_NAMES = {"error": "错误", "warning": "警告", "info": "提示"}
#: the survey stage of a package, as a report names it
STAGE_NAMES = {"cadastral": "权籍调查", "presale": "预测绘", "asbuilt": "实测绘", "baseline": "存量数据"}
#: why a parcel or building of the county's existing registry is not "ready for 首次登记": it was registered before
REGISTERED_BEFORE = "存量数据：已在原登记系统登记，不适用首次登记"
#: which survey a building's areas come from, as a 楼盘表 or a unit list says it
AREA_KINDS = {"presale": "预测", "asbuilt": "实测"}


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str  # error | warning | info
    layer: str
    description: str  # Chinese, for surveyors and staff


CATALOGUE: dict[str, Rule] = {r.id: r for r in [
    Rule("PKG-001", "error", "package", "缺少该阶段必需的图层"),
    Rule("PKG-002", "error", "package", "文件无法读取或 shapefile 不完整（缺少 .shx 或 .dbf）"),
    Rule("PKG-003", "error", "package", "无法确定文字编码"),
    Rule("PKG-004", "error", "package", "无法确定坐标系，或坐标系与本县不符"),
    Rule("PKG-005", "info", "package", "编码、坐标系、阶段或县为推断所得（说明推断内容）"),
    Rule("PKG-006", "warning", "package", "声明的编码或坐标带号前缀与文件内容不符，已按实际内容读取"),
    Rule("PKG-007", "error", "package", "规划许可文件 permit.json 无法读取"),
    Rule("PKG-008", "warning", "package", "成果包中的规划许可与登记的许可不一致"),
    Rule("PKG-009", "error", "ZRZ", "找不到自然幢所在的已登记宗地（manifest 的 parcel_code 或包含自然幢的现势宗地）"),
    Rule("PKG-010", "info", "package", "电子表格的表头不在第一行，或跳过了标题、空行、合计/小计行和签署行（说明行数）"),
    Rule("GEO-001", "error", "all", "几何图形无效（自相交、蝴蝶结、环未闭合），附 GEOS 原因和位置"),
    Rule("GEO-002", "error", "all", "几何图形为空"),
    Rule("GEO-003", "info", "polygons", "读取时修正了重复节点、尖刺或环方向"),
    Rule("GEO-004", "warning", "polygons", "狭长碎面：面积小于 0.5 ㎡ 或面积与周长平方之比过小"),
    Rule("GEO-005", "info", "all", "已去除 Z 或 M 值"),
    Rule("GEO-006", "error", "all", "几何类型不符合该图层的要求"),
    Rule("TOP-001", "error", "ZDJBXX", "成果包内宗地相互重叠（同一权利设定方式）超过 0.01 ㎡"),
    Rule("TOP-002", "error", "ZDJBXX", "新宗地与未被替代的现势宗地重叠"),
    Rule("TOP-003", "error", "ZRZ", "自然幢超出所在宗地"),
    Rule("TOP-004", "error", "H", "户超出所在自然幢的基底"),
    Rule("TOP-005", "error", "H", "同幢同层的户相互重叠"),
    Rule("TOP-006", "error", "ZDJBXX/JZD", "宗地拐点缺少界址点，或界址点不在宗地边界上"),
    Rule("TOP-007", "error", "ZDJBXX", "宗地跨越地籍子区边界或位于本县之外"),
    Rule("TOP-008", "warning", "ZDJBXX", "相邻宗地的拐点应重合而未重合，或存在狭窄缝隙"),
    Rule("TOP-009", "error", "ZRZ", "成果包内自然幢相互重叠"),
    Rule("ATT-001", "error", "ZDJBXX", "申报的宗地面积与图形面积之差超过限差"),
    Rule("ATT-002", "error", "all", "必填属性缺失或无法识别"),
    Rule("ATT-003", "warning", "all", "代码值不在代码表中"),
    Rule("ATT-004", "error", "H", "重复的户：同幢、同单元、同层、同室号（室号按 0501 = 501、1-501 = 1单元501 规范后比较）"),
    Rule("ATT-005", "error", "H", "建筑面积不等于套内面积与分摊面积之和"),
    Rule("ATT-006", "error", "ZRZ/H", "各户建筑面积之和与自然幢建筑面积不符"),
    Rule("ATT-007", "error", "ZRZ/C/H", "层数不一致，或户（跃层户的每一层）不在该幢的层上，或户的自然幢无法确定"),
    Rule("ATT-008", "error", "any", "宗地代码或不动产单元代码格式错误、不存在或已注销"),
    Rule("ATT-009", "warning", "H", "户图形面积与套内面积之差超过限差"),
    Rule("ATT-010", "warning", "H", "分摊核验：分摊面积与同组 K×套内面积不符，或分摊系数与面积、与同组 K 不一致"),
    Rule("ATT-011", "error", "ZDJBXX", "宗地特征码缺失且无法由权利类型、权利性质推定"),
    Rule("ATT-012", "info", "ZRZ/LJZ/C/H", "自然幢号已规范为 4 位幢号（1、01、1#、1号楼、1栋 …），或非数字幢号（A座）保留为幢名称、"
                                          "编码时取下一个空闲幢号"),
    Rule("ATT-013", "error", "H", "套内建筑面积不等于套内使用面积、墙体面积与阳台面积（未封闭阳台按一半）之和"),
    # the county's existing registry (存量数据导入): its codes are kept, so they must be right and must not collide;
    # its geometry and topology findings (GEO, TOP, ATT above) are recorded as warnings on the imported rows
    Rule("BSL-001", "error", "any", "存量数据的代码格式错误（按代码类型的规则），或不属于本县"),
    Rule("BSL-002", "error", "any", "存量数据中代码重复（同一代码出现在两个宗地或两户上，或已发放代码表中状态矛盾）"),
    Rule("BSL-003", "error", "any", "存量数据的代码已在登记库中（此前导入的批次或本系统发放过），说明两处来源"),
    Rule("BSL-004", "error", "any", "代码不一致：户代码不以所在宗地代码开头、幢号与所属自然幢不符、自然幢或户找不到所属宗地或自然幢，"
                                    "或现势数据的代码在已发放代码表中为注销"),
    Rule("BSL-005", "warning", "ZDJBXX", "宗地代码中的地籍子区与包含该宗地的地籍子区不符（区划调整后常见，由县里决定）"),
    Rule("BSL-006", "error", "ZDJBXX/ZRZ", "宗地或自然幢没有可存储的图形"),
    Rule("BSL-007", "error", "DYDM", "已发放代码表的状态无法识别（应为 现势 或 注销）"),
    # planning verification (规划核实): errors that block a building's readiness for 首次登记, not the acceptance
    # of the survey; a pre-sale package's forecast failures are warnings
    Rule("PLN-001", "error", "planning", "用地面积与规划许可不符（超出面积限差）"),
    Rule("PLN-002", "error", "planning", "宗地范围与规划红线不一致（不重合部分超过用地面积的 1%）"),
    Rule("PLN-003", "error", "planning", "总建筑面积与规划许可不符（超出本县允许的比例）"),
    Rule("PLN-004", "error", "planning", "容积率超过规划许可上限（按本县计容规则）"),
    Rule("PLN-005", "error", "planning", "建筑密度超过规划许可上限（基底面积按并集计）"),
    Rule("PLN-006", "error", "planning", "绿地率低于规划许可下限（绿地按宗地内部分计）"),
    Rule("PLN-007", "error", "planning", "停车位少于规划许可"),
    Rule("PLN-008", "error", "planning", "建筑高度超过规划限高"),
    Rule("PLN-009", "error", "planning", "单体建筑面积与规划许可不符，或该幢不在许可中"),
    Rule("PLN-010", "error", "planning", "地上、地下层数与规划许可不符"),
    Rule("PLN-011", "error", "planning", "规划用途与规划许可不符"),
    Rule("PLN-012", "error", "planning", "配套公建（物业用房、社区用房等）面积少于规划许可"),
    Rule("PLN-013", "error", "planning", "自然幢超出建筑控制线（退线不足）"),
]}

#: rules whose errors block readiness for 首次登记 but not the acceptance of the survey
PLANNING_PREFIX = "PLN-"


def rule(rule_id: str) -> Rule:
    return CATALOGUE[rule_id]
