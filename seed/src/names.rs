//! Word lists the generator draws names from. Authored by hand; order matters (the seeded draws
//! index into these slices), so append rather than reorder, and regenerate the data files.

/// Townships: name, pinyin, seat latitude, seat longitude. The first one is the county seat.
///
/// Hand-placed 9 to 15 km apart, like the seats of a rural county of about 2,000 km² in the hills
/// south of Tai'an; the positions are fictional.
pub const TOWNSHIPS: [(&str, &str, f64, f64); 12] = [
    ("城关镇", "chengguan", 36.300, 117.400),
    ("石门镇", "shimen", 36.392, 117.318),
    ("柳泉镇", "liuquan", 36.405, 117.462),
    ("汶阳镇", "wenyang", 36.212, 117.318),
    ("龙山镇", "longshan", 36.470, 117.382),
    ("马庄镇", "mazhuang", 36.318, 117.548),
    ("青云乡", "qingyun", 36.452, 117.602),
    ("安乐镇", "anle", 36.190, 117.462),
    ("桃源镇", "taoyuan", 36.300, 117.230),
    ("白马乡", "baima", 36.160, 117.598),
    ("北集镇", "beiji", 36.470, 117.222),
    ("南岭乡", "nanling", 36.118, 117.292),
];

/// Common surnames of western Shandong.
pub const SURNAMES: [&str; 56] = [
    "王", "张", "李", "刘", "陈", "杨", "赵", "孙", "徐", "马", "高", "朱", "胡", "郭", "于", "董",
    "吕", "田", "孟", "贾", "宋", "韩", "曹", "魏", "姜", "崔", "丁", "任", "秦", "邢", "范", "尹",
    "侯", "段", "毕", "房", "孔", "颜", "鲁", "牛", "石", "苏", "葛", "蒋", "薛", "周", "吴", "郑",
    "程", "杜", "邵", "亓", "褚", "申", "岳", "乔",
];

/// Given names (one or two characters).
pub const GIVEN_NAMES: [&str; 60] = [
    "建国", "秀英", "桂兰", "志强", "海燕", "玉梅", "立新", "春生", "红霞", "德明", "淑珍", "文静",
    "永刚", "凤英", "国栋", "丽娟", "晓东", "明亮", "金花", "保华", "庆云", "传顺", "爱华", "学军",
    "玉芳", "振华", "宝林", "翠萍", "延军", "新民", "兆东", "丽", "伟", "静", "敏", "磊", "军",
    "勇", "燕", "芳", "涛", "霞", "刚", "杰", "鹏", "婷", "博", "宁", "庆华", "美玲", "明霞",
    "长江", "守信", "成林", "广平", "雪梅", "继红", "书文", "瑞琪", "晨阳",
];

/// Endings of surname villages: 张家庄, 王官庄, 李家峪 ...
pub const SURNAME_VILLAGE_ENDINGS: [&str; 12] = [
    "家庄", "庄", "家峪", "家洼", "官庄", "家楼", "家寨", "家店", "家屯", "家沟", "家河", "家岭",
];

/// Leading words of landscape villages: 东石桥, 后柳沟, 大枣园 ...
pub const VILLAGE_PREFIXES: [&str; 10] =
    ["东", "西", "南", "北", "前", "后", "上", "下", "大", "小"];

/// Landscape words of villages.
pub const VILLAGE_FEATURES: [&str; 24] = [
    "石桥", "柳沟", "河崖", "岭", "峪", "泉", "店子", "营", "坡", "杏林", "梨园", "枣园", "山口",
    "河滩", "槐树", "桑园", "石屋", "龙湾", "土门", "庙子", "辛庄", "栗园", "水磨", "井",
];

/// Streets of a township seat.
pub const STREETS: [&str; 12] = [
    "人民路",
    "建设路",
    "文化路",
    "解放路",
    "和平街",
    "中心街",
    "府前街",
    "新华路",
    "商业街",
    "健康路",
    "振兴路",
    "胜利街",
];

/// Private clinic brands with the pinyin used for their email.
pub const CLINIC_BRANDS: [(&str, &str); 14] = [
    ("仁和", "renhe"),
    ("康宁", "kangning"),
    ("惠民", "huimin"),
    ("济生", "jisheng"),
    ("德济堂", "dejitang"),
    ("同仁", "tongren"),
    ("安康", "ankang"),
    ("益民", "yimin"),
    ("百草堂", "baicaotang"),
    ("杏林", "xinglin"),
    ("博爱", "boai"),
    ("健民", "jianmin"),
    ("永春", "yongchun"),
    ("慈心", "cixin"),
];

/// Kinds of private clinic and their typical waste range (kg/day).
pub const CLINIC_KINDS: [(&str, f64, f64); 4] = [
    ("诊所", 0.4, 2.0),
    ("中医诊所", 0.3, 1.0),
    ("口腔诊所", 0.5, 1.6),
    ("中西医结合诊所", 0.5, 2.0),
];

/// Mobile number prefixes (China Mobile, Unicom and Telecom).
pub const MOBILE_PREFIXES: [&str; 24] = [
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152",
    "153", "155", "156", "157", "158", "159", "180", "182", "183", "187", "189",
];

/// Letters used on plates (no I or O).
pub const PLATE_LETTERS: [char; 24] = [
    'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'J', 'K', 'L', 'M', 'N', 'P', 'Q', 'R', 'S', 'T', 'U',
    'V', 'W', 'X', 'Y', 'Z',
];
