"""Deterministic reading of a student's message: which demo it asks for, whether it is off-topic or a
prompt-injection attempt, the language it is in, and how a follow-up ("它的预训练任务呢？") is
resolved against the conversation. Used to guard the agent and to drive the extractive fallback."""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from tutor.tools.code import code_topic, named_snippet
from tutor.tools.parsing import asks_for_steps, strip_quoted, trailing_data

COURSE_TERMS = [
    "bert", "gpt", "chatgpt", "transformer", "attention", "注意力", "自注意力", "多头", "掩码", "mask", "遮",
    "n-gram", "ngram", "gram", "bigram", "trigram", "unigram", "一元", "二元", "三元", "语言模型", "nnlm", "rnn",
    "lstm", "循环神经网络", "embedding", "嵌入", "词向量", "one-hot", "onehot", "独热", "编码器", "解码器", "encoder",
    "decoder", "预训练", "微调", "fine-tun", "finetun", "lora", "peft", "prompt", "提示", "指令", "sft", "rlhf",
    "强化学习", "思维链", "chain of thought", "上下文学习", "in-context", "agent", "智能体", "langchain", "大模型",
    "llm", "参数", "softmax", "qkv", "query", "key", "value", "位置编码", "positional", "feed forward", "前馈",
    "马尔可夫", "markov", "困惑度", "perplexity", "平滑", "smoothing", "tokenizer", "分词", "向量", "相似度",
    "神经网络", "深度学习", "机器翻译", "seq2seq", "nsp", "mlm", "zero-shot", "few-shot", "零样本", "少样本",
    "模型", "训练", "概率", "矩阵", "权重", "层数", "隐藏层", "网络层", "梯度", "ai", "人工智能", "自然语言", "nlp", "token",
    "word2vec", "分布式表示", "distributed", "next sentence", "davinci", "instruction", "rnn", "seq", "序列",
    "language model", "pretrain", "pre-train", "neural", "word vector",  # English names of terms the notes write in Chinese
    "语料", "数据集", "算力", "gpu", "openai", "涌现", "scaling", "参数量", "推理", "生成式", "自回归", "双向",
    "rlaif", "ppo", "奖励", "reward", "bpe", "bleu", "elmo", "llama", "qlora", "tpu", "显存", "显卡", "量化", "蒸馏",
    "dk", "d_k", "根号", "这门课", "本课程", "课程", "缩放", "残差", "归一化", "对齐", "alignment", "解码", "编码",
    "prefix", "前缀", "p-tuning", "adapter", "t5", "moe", "混合专家", "自编码", "autoencod", "autoregress",
    # a question about what the course itself said is in scope, whatever its words
    "lecture", "the course", "this course", "the notes", "course notes", "课上", "课堂上", "老师讲", "老师说", "讲义", "课件", "笔记里",
]
# Latin terms match as words: "ai" must not fire inside "rain", "key" inside "keyboard", "gram" inside
# "Instagram". A short term (4 letters or less) may take a plural "s" ("RNNs"); a longer one any suffix
# ("transformers", "prompting").
_LATIN_TERM = re.compile(r"[a-z0-9 _\-]+")
_COURSE_RE = re.compile(
    "|".join(
        (rf"(?<![a-z0-9]){re.escape(t)}" + (r"s?(?![a-z0-9])" if len(t) <= 4 else ""))
        if _LATIN_TERM.fullmatch(t) else re.escape(t)
        for t in sorted(COURSE_TERMS, key=len, reverse=True)
    )
)
TOPIC_TERMS = [
    "ChatGPT", "GPT-4", "GPT-3", "GPT-2", "GPT-1", "GPT", "BERT", "Transformer", "自注意力", "多头注意力",
    "注意力机制", "注意力", "self-attention", "attention", "LoRA", "PEFT", "LangChain", "RLHF", "SFT", "NNLM",
    "RNN", "LSTM", "n-gram", "trigram", "bigram", "one-hot", "embedding", "词向量", "位置编码", "掩码",
    "预训练", "微调", "思维链", "上下文学习", "in-context learning", "统计语言模型", "语言模型", "编码器", "解码器",
    "few-shot", "zero-shot", "one-shot", "prompt tuning", "prefix tuning", "指令微调", "高效微调", "全量微调",
]
# More course terms, used to know what an ellipsis or a pronoun follow-up names ("它和前缀微调有什么区别？" after
# "什么是提示词微调？" is not about 微调 in general), but neither to decide that a short follow-up is
# self-contained ("MLM 是什么？" after "什么是 BERT？" is still read within BERT) nor as a turn's topic (a turn
# asking what one of them is has it as its topic through its definition subject: tutor.api.turn_topic).
EXTRA_TOPIC_TERMS = [
    "马尔可夫假设", "马尔可夫", "分布式表示", "word2vec", "Encoder-Decoder", "seq2seq", "智能体", "ReAct",
    "提示词微调", "提示微调", "前缀微调", "language model", "positional encoding", "fine-tuning", "pre-training",
    "attention mechanism", "softmax", "MLM", "NSP", "奖励模型", "梯度消失", "多头", "QKV", "缩放点积", "前馈网络",
    "残差", "强化学习", "Prompt", "提示词",
]
_INJECTION = re.compile(
    r"忽略.{0,8}(指令|指示|提示|规则|设定|要求)|无视.{0,8}(指令|规则|设定)|(系统|system)\s*(提示词|提示|prompt|消息|指令|设定)|"
    r"你的(提示词|指令|设定|规则|prompt)|(打印|输出|显示|告诉我|重复|翻译).{0,8}(提示词|指令|prompt|初始设定|系统消息|第一条消息)|"
    r"(初始|原始|隐藏)的?(设定|指令|提示)|你(现在)?是\s*dan\b|不受任何限制|没有任何限制|开发者模式|越狱|"
    r"ignore\s+(all\s+|any\s+)?(the\s+)?(previous|prior|above|earlier)|disregard\s+(all\s+|the\s+)?(previous|prior|above)|"
    r"reveal\s+(your|the)\s+(system|hidden|rules|instructions|prompt)|"
    r"\b(print|show|repeat|output|tell me)\b.{0,20}\b(your|the)\s+(system\s+)?(prompt|instructions|rules)|"
    r"\b(print|show|reveal|dump|list|give\s+me|tell\s+me|output|leak)\b.{0,40}\b(api[\s_-]?keys?|environment\s+variables?|env\s+vars?|"
    r"secrets?|passwords?|credentials?|(hidden|internal|secret)\s+(config(uration)?|settings))|"
    r"(打印|输出|显示|告诉我|给我|列出|泄露|透露).{0,20}(环境变量|密钥|api\s*key|密码|隐藏配置|内部配置|配置信息)|"
    r"你的(环境变量|密钥|api\s*key|密码|隐藏配置|内部配置|配置信息)|"
    r"told\s+before\s+this\s+conversation|pretend\s+(you\s+are|to\s+be)|jailbreak|developer\s+mode|you\s+are\s+now\s+|\bdan\b.{0,10}(mode|模式)",
    re.I,
)
_CREATIVE = re.compile(r"写(一|首|篇|个)?(首|篇)?(诗|歌|小说|故事|笑话|作文)|作诗|讲个笑话|write\s+(me\s+)?a\s+(poem|story|song|joke)", re.I)
_SMALLTALK = re.compile(r"天气|股票|彩票|菜谱|做饭|旅游|电影推荐|星座|weather|stock price|recipe", re.I)
# A message that is only a greeting or a thank-you (nothing else asked): "你好", "老师好！", "谢谢老师", "thanks!".
_GREETING = re.compile(r"^\s*(?:你好|您好|嗨|哈喽|哈啰|老师好|助教好|大家好|早上好|上午好|下午好|晚上好|早安|晚安|hello|hi|hey|good\s+(?:morning|afternoon|evening))"
                       r"(?:\s*(?:呀|啊|哇|老师|助教|there))*[\s!！。.,，~～]*$", re.I)
_THANKS = re.compile(r"^\s*(?:谢谢|多谢|感谢|谢啦|谢了|thanks?|thank\s+you|thx|ty)(?:\s*(?:你|您|老师|助教|啦|了|呀|a lot|so much|very much))*[\s!！。.,，~～]*$", re.I)
_MATRIX = re.compile(r"\[\s*\[")
_PRONOUN = re.compile(r"^(它|它们|他|她|他们|这个|那个|这|那|其|这种|那种|该|此)|它|它们|\b(it|its|they|them|this|that)\b", re.I)
# a choice between what the previous answer named: "So which one would you pick…?", "两者哪个更好？"
# (a bare "哪个 / 哪种" also opens fresh questions: "哪种平滑方法最好？")
_CHOICE = re.compile(r"两者|二者|前者|后者|(?:选|用)哪(?:个|一个|种)|哪(?:个|一个)更|\b(which one|which of (them|the two)|the former|the latter|both of them|either of them)\b", re.I)


@dataclass
class Intent:
    kind: str  # "attention" | "ngram" | "mask" | "gpt_attention" | "code" | "concept" | "offtopic" | "injection"
    language: str  # "zh" | "en"
    definite: bool = False  # offtopic for sure (a poem, the weather), not a terse follow-up
    social: str = ""  # a whole message that only greets ("greeting") or thanks ("thanks"): a friendly fixed reply


# Words that make a question Chinese or English; course terms ("In-context Learning", "注意力") do not.
_CHINESE_GRAMMAR = re.compile(r"什么|怎么|为什么|为啥|吗|呢|哪|如何|是否|多少|有没有|是不是|请|的|了|和|是|用|在|有|吧")
_ENGLISH_GRAMMAR = re.compile(
    r"\b(?:what|how|why|which|who|when|where|is|are|was|were|does|do|did|can|could|would|should|the|explain|tell|"
    r"please|between|difference)\b", re.I)


def language_of(text: str) -> str:
    """'zh' or 'en': the language a question is asked in, read from its grammar words, not its terms.
    Chinese words around English terms are Chinese ('什么是 In-context Learning？', '用 this is a sentence
    举例，bigram 会切出哪些词组？'); English words around a Chinese term are English ('What does 注意力
    mean?'); with neither, Chinese when it has two Chinese characters, or one and fewer than 8 Latin
    letters ('BERT vs GPT?' is English)."""
    cjk = len(re.findall(r"[\u4e00-\u9fff]", text))
    latin = len(re.findall(r"[A-Za-z]", text))
    if cjk and _CHINESE_GRAMMAR.search(text):
        return "zh"
    if _ENGLISH_GRAMMAR.search(text):
        return "en"
    return "zh" if cjk >= 2 or (cjk == 1 and latin < 8) else "en"


# "Q、K、V" / "Q, K, V" / "Q/K/V": attention's query, key and value written one by one
_QKV_SPELLED = re.compile(r"(?<![a-z])q\s*[、,，/和与 ]\s*k\s*[、,，/和与 ]\s*(?:和|与|and\s+)?\s*v(?![a-z])")


def is_course_related(text: str) -> bool:
    low = text.lower()
    return bool(_COURSE_RE.search(low) or _QKV_SPELLED.search(low))


# the tool requests: the live demos, and "code" (the tutor's own implementation of a topic: tutor.tools.code)
DEMO_KINDS = ("attention", "ngram", "mask", "gpt_attention", "code")
# What a request to see attention asks for: its weights, scores, map or how it is spread over the words.
_SHOW_ATTENTION = r"图|map|热力|权重|分数|分布|矩阵|可视化|画|看看|看一下|weights?\b|scores?\b|matrix|visuali[sz]|look like"
# Words naming the tutor GPT as the one attending (a gpt_attention request).
_OWN_MODEL = r"你自己|你的|你这个|你这|你在|你读|助教(?:模型|的|自己|\s*gpt)|tutor(?:\s*gpt|'s)|自己的|\byour\b"


def classify(text: str) -> Intent:
    lang = language_of(text)
    intent = _classify(text, lang)
    # Quoted text in a demo request is the demo's data (a sentence to score, a corpus to train on): an
    # order inside it is not obeyed, and the demo still runs. Anywhere else it is an attempt.
    if _INJECTION.search(text) and (intent.kind not in DEMO_KINDS or _INJECTION.search(strip_quoted(text))):
        return Intent("injection", lang)
    return intent


def _classify(text: str, lang: str) -> Intent:
    t = text.lower()
    bare = strip_quoted(t, "“”")  # the request without its quoted sentence
    # a matrix, or Q/K/V given one ("Q=[[1,0]]", "Q=K=V=...") — not "k=0.5" of add-k smoothing
    has_matrix = bool(_MATRIX.search(text)) or bool(re.search(r"\b[qkv]\s*[=＝:：]\s*(?:\[|[qkv]\b)", t))
    # the tutor GPT's own attention: the request names the model as the one attending ("你的 / 你自己 /
    # 助教模型 / your"), not merely a "你" asking ("你能解释一下注意力权重吗" wants the notes)
    if re.search(rf"(?:{_OWN_MODEL}).{{0,16}}(?:注意力|attention).{{0,8}}(?:{_SHOW_ATTENTION})|own attention", bare):
        return Intent("gpt_attention", lang)
    if has_matrix and re.search(r"注意力|attention|softmax|q\s*[=＝]|权重", t):
        return Intent("attention", lang)
    # the data a demo works on: quoted, or after the request's colon ("给这句话打分：我 爱 你")
    quoted = re.search(r"[“\"「『'].+[”\"」』']", text) or trailing_data(text)
    # "用 Python 写一个 softmax", "show me the code for a causal mask": the tutor's own code, not a demo run
    # (a request with data to run on, "用 numpy 算一下注意力 Q=[[1,0]]…", is the demo)
    if not has_matrix and not quoted and code_topic(bare):
        return Intent("code", lang)
    # attention over a quoted sentence: "给“我 爱 你”算一下自注意力，用 2 个头"
    if re.search(r"[“\"「『'][^”\"」』']{3,}[”\"」』']", text) and re.search(r"注意力|attention", bare) \
            and re.search(rf"算|计算|compute|calculate|演示|demo|show|[0-9一二两三四]\s*个?头|heads?\b|{_SHOW_ATTENTION}", bare) \
            and not re.search(r"掩码|mask", bare):
        return Intent("attention", lang)
    # the request's words are read outside its quoted data: "给“掩码让模型看不到后面的词”打分" scores a sentence
    if re.search(r"(因果|causal|look-ahead|padding|填充|下三角).{0,6}(掩码|mask|矩阵)|(掩码|mask).{0,4}矩阵", bare) and re.search(r"\d|生成|演示|看|show|给我|画", t) or (
        re.search(r"掩码|mask|遮住|遮盖|遮掉|遮词|掩盖|\[mask\]|mlm", bare) and (quoted or re.search(r"演示|demo|seed|\bstats\b|统计(?!语言|模型|学)|实际比例", bare))
    ) or (re.search(r"bert|80\s*/\s*10\s*/\s*10", bare) and quoted and re.search(r"演示|demo|示范|试一下|试试|show me", bare)):
        return Intent("mask", lang)
    # "bigram", "2-gram", "三元模型", "二元（MLE）" — not "三元组"
    if re.search(r"[n\d]-?gram|bigram|trigram|unigram|[一二三]元\s*(?:语法|文法|模型|语言模型|model|[（(]|gram)|困惑度|perplexity|平滑|smoothing", bare) and (
        re.search(r"[“\"「『'].+[”\"」』']", text) or re.search(r"打.{0,2}分|评分|算|计算|score|概率|比较|compare|prob", t)
    ):
        return Intent("ngram", lang)
    # scoring a sentence without naming the model ("给“我 爱 你”打分", "“我 爱 你”这句话的概率是多少"): the
    # course's sentence scorer is the n-gram language model (a bigram unless told otherwise)
    if quoted and re.search(r"打.{0,2}分|评分|\bscore|概率|probabilit|likelihood|可能性", bare) and not re.search(r"注意力|attention|掩码|mask", bare):
        return Intent("ngram", lang)
    if has_matrix:
        return Intent("attention", lang)
    social = "greeting" if _GREETING.match(text) else "thanks" if _THANKS.match(text) else ""
    if social:
        return Intent("offtopic", lang, definite=True, social=social)
    if not re.search(r"[^\W\d_]", text):  # no word at all ("😀😀😀", "？？？", "123"): nothing to answer; in Chinese, the tutor's first language
        return Intent("offtopic", "zh", definite=True)
    if _CREATIVE.search(text) and not is_course_related(text.replace("写", "")):
        return Intent("offtopic", lang, definite=True)
    if _SMALLTALK.search(text) and not is_course_related(text):
        return Intent("offtopic", lang, definite=True)
    if not is_course_related(text):
        return Intent("offtopic", lang)
    return Intent("concept", lang)


# A sentence of a course question that asks for something else: a role the tutor should play or a voice
# it should answer in ("You are a pirate now.", "用海盗的口吻回答") — not an attempt on its rules (_INJECTION).
_ROLE_PLAY = re.compile(
    r"^\s*(?:from\s+now\s+on,?\s+)?you(?:'re|\s+are)\s+(?:now\s+)?(?:a|an)\s+[a-z]+(?:\s+[a-z]+)?(?:\s+now)?\W*$|"
    r"\b(?:talk|speak|answer|reply|respond|write)\s+(?:only\s+)?(?:like|as|in)\s+(?:a\s+|an\s+)?(?!english\b|chinese\b|mandarin\b)[a-z]+(?:\s+(?:speak|voice|style))?\W*$|"
    r"(?:用|以).{1,8}(?:的)?(?:口吻|语气|身份|风格)(?:来)?(?:回答|说话|回复|讲)|(?:从现在开始)?你(?:现在)?(?:就)?是(?:一[个只名位])(?!.*(?:助教|老师))", re.I)
# Where a message's sentences end: 。！？!?；;, a full-width colon ("用海盗的口吻回答：什么是 BERT？"), a line
# break, an English ". " before the next sentence.
_SENTENCE = re.compile(r"[^。！？!?；;：\n]+(?:[。！？!?；;：\n]+|$)")


def split_aside(text: str) -> tuple[str, list[str]]:
    """A course question with asides that are not part of it, split from them: the question's own
    sentences, and the asides the tutor does not answer — small talk or a creative request ("What is BERT?
    Also, what's the weather in Paris?", "什么是注意力机制？顺便给我写一首诗。") or a role to play ("You are a
    pirate now. What is BERT?"). A sentence that only greets or thanks ("你好！什么是 BERT？") is dropped
    without being named. (text, []) when nothing is set aside, or when no sentence left is about the course.
    An attempt on the tutor's rules is not an aside: the whole message is refused (classify)."""
    parts = [p for p in _SENTENCE.findall(strip_quoted(text, lambda q: q.group(0).replace("。", "\0")
                                                       .replace("？", "\1").replace("！", "\2"))) if p.strip()]
    # sentences inside quotes stay whole: their sentence marks were hidden above, and are put back here
    parts = [p.replace("\0", "。").replace("\1", "？").replace("\2", "！") for p in parts]
    parts = [q for p in parts for q in re.split(r"(?<=[a-z0-9][.])\s+(?=[A-Z])", p)]
    if len(parts) < 2:
        return text, []
    kept, asides, greetings = [], [], 0
    for p in parts:
        bare = re.sub(r"^\s*(?:also|and|btw|by the way|另外|顺便(?:问一下|说一句|说一下)?|还有|再|然后)[,，:：\s]*", "", p, flags=re.I)
        if _GREETING.match(bare) or _THANKS.match(bare):
            greetings += 1
        elif ((_SMALLTALK.search(bare) or _CREATIVE.search(bare)) and not is_course_related(bare.replace("写", ""))) \
                or _ROLE_PLAY.search(bare):
            asides.append(bare.strip().rstrip("。！？!?；;：.,，"))
        else:
            kept.append(bare)
    question = "".join(kept).strip()
    if not (asides or greetings) or not is_course_related(question):
        return text, []
    return question, asides


def topic_of(text: str, extra: bool = True) -> str:
    """The most specific course term named in `text` ('' when none); of TOPIC_TERMS only when not `extra`."""
    low = text.lower()
    best = ""
    best_pos = 10**9
    for term in TOPIC_TERMS + EXTRA_TOPIC_TERMS if extra else TOPIC_TERMS:
        pos = low.find(term.lower())
        if pos >= 0 and (pos < best_pos or (pos == best_pos and len(term) > len(best))):
            best, best_pos = term, pos
    return best


def subject_terms(text: str) -> list[str]:
    """Every course term `text` names, in the order named, a term inside a longer one dropped:
    'Transformer 的编码器有什么结构？' → ['Transformer', '编码器']."""
    low = text.lower()
    found = [(low.find(t.lower()), t) for t in TOPIC_TERMS if t.lower() in low]
    terms = [t for _, t in sorted(found)]
    terms = [t for t in terms if not any(t != u and t.lower() in u.lower() for u in terms)]
    return list(dict.fromkeys(terms))


def subject_of(text: str, most: int = 2) -> str:
    """The course terms a question is about, in the order named, a term inside a longer one dropped:
    'GPT-3 提出的 in-context learning 是什么意思？' → 'GPT-3 in-context learning'. A follow-up such as
    '这个方法对模型大小有要求吗？' may mean either, so it is resolved against both ('' when none)."""
    return " ".join(subject_terms(text)[:most])


def _kinship(a: str, b: str) -> int:
    """How alike two terms are: the length of the longest run of characters they share when it is two
    Chinese characters or three Latin ones at least ('编码器', '解码器' → 2; 'bigram', 'trigram' → 5), else 0
    ('BERT', 'Transformer' share only 'er')."""
    a, b = a.lower(), b.lower()
    m = SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b))
    best = a[m.a : m.a + m.size]
    chinese = sum("\u4e00" <= c <= "\u9fff" for c in best)
    return len(best) if chinese >= 2 or len(best) >= 3 else 0


# "那 GPT-3 呢？" / "换成 BERT 呢" / "what about GPT-3?": the previous question, asked of another topic.
_ELLIPSIS_ZH = re.compile(r"^\s*(?:那么?|换成|如果是|那如果是)\s*(?P<x>[^，。,；;？?]{1,24}?)\s*(?:呢|又如何|又怎么样|怎么样)?\s*[？?]?\s*$"
                          r"|^\s*(?P<y>[^，。,；;？?]{1,24}?)\s*呢\s*[？?]?\s*$")
_ELLIPSIS_EN = re.compile(r"^\s*(?:and|what about|how about)\s+(?P<x>[^,.;?]{1,40}?)\s*\??\s*$", re.I)


def rewrite_ellipsis(question: str, previous_question: str, previous_topic: str) -> str:
    """'那 GPT-3 呢？' after 'GPT-2 有多少参数？' becomes 'GPT-3 有多少参数？': the previous question with its
    topic replaced by the one just named. '' when the question is not such an ellipsis, names no course
    topic, or the previous question does not name the previous topic."""
    m = _ELLIPSIS_ZH.match(question) or _ELLIPSIS_EN.match(question)
    if not m or not previous_topic or _COMPARED_TO.match(question):
        return ""  # "跟 BERT 相比呢？" compares with the previous topic (resolve_followup), it does not replace it
    new = (m.group("x") or m.group("y") or "").strip()
    named = topic_of(new)
    if not named or named.lower() == previous_topic.lower():
        return ""
    # the topic as the request names it, not inside its quoted data ("给“注意力 机制 很 重要”算一下自注意力")
    outside = strip_quoted(previous_question, lambda q: "\0" * len(q.group(0)))
    # the term the new one stands in for: of the previous question's terms, the one most like it ("解码器呢？"
    # after "Transformer 的编码器有什么结构？" replaces 编码器, not Transformer), else the conversation's topic
    old = previous_topic
    like = max(subject_terms(outside), key=lambda t: _kinship(t, named), default="")
    if like and _kinship(like, named):
        if like.lower() == named.lower():
            return ""  # the previous question already asked about it
        old = like
    elif not topic_of(new, extra=False):
        return ""  # "那 NSP 呢？" after "BERT 的 MLM 是怎么做的？" is not asked of NSP instead of BERT
    at = outside.lower().find(old.lower())
    if at < 0:
        return ""
    return previous_question[:at] + new + previous_question[at + len(old) :]


# "第三步呢？" after "ChatGPT 训练的第一步是什么？": the same question of another step.
_SLOT = re.compile(r"第\s*(?:[一二三四五六七八九十两]|\d{1,2})\s*(?P<unit>个|种|步|层|阶段|部分|点|条|项|代|次|版)")


def rewrite_slot(question: str, previous_question: str) -> str:
    """'第三步呢？' after 'ChatGPT 第一步是什么？' becomes 'ChatGPT 第三步是什么？': the previous question with its
    numbered item ('第一步') replaced by the one just named, of the same measure word. '' when the question is
    not such an ellipsis or the previous question numbers nothing of that kind."""
    m = _ELLIPSIS_ZH.match(question)
    new = ((m.group("x") or m.group("y") or "").strip() if m else "")
    slot = _SLOT.fullmatch(new)
    if not slot:
        return ""
    for old in _SLOT.finditer(previous_question):
        if old.group("unit") == slot.group("unit") and old.group(0) != new:
            return previous_question[: old.start()] + new + previous_question[old.end() :]
    return ""


_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])|(?<=[=＝])\d+(?:\.\d+)?")
_SETTING_JOINER = re.compile(r"^[\s=＝:：为是]+|[\s=＝:：为是]+$|^(?:改成|改为|设为|设成|变成|换成)|的话$")


def rewrite_setting(question: str, previous_question: str) -> str:
    """'长度 6 呢？' after '给我看一个长度为 4 的因果掩码' becomes '给我看一个长度为 6 的因果掩码': a demo
    request asked again with one number changed. The number replaced is the one the follow-up names
    ("长度", "k", "个头", "length") next to a number in the previous request, or the previous request's
    only number; numbers inside quoted sentences are data and stay. '' when the question is not such
    a follow-up (one number, a few words) or the number to change cannot be told."""
    m = _ELLIPSIS_ZH.match(question) or _ELLIPSIS_EN.match(question)
    if not m or not previous_question:
        return ""
    new = (m.group("x") or m.group("y") or "").strip()
    nums = list(_NUMBER.finditer(new))
    if len(nums) != 1:
        return ""
    value = nums[0].group(0)
    label = _SETTING_JOINER.sub("", (new[: nums[0].start()] + " " + new[nums[0].end() :]).strip()).strip().lower()
    if len(label) > 12:
        return ""
    # positions of the previous request's numbers outside quoted data
    outside = strip_quoted(previous_question, lambda q: "\0" * len(q.group(0)))
    found = list(_NUMBER.finditer(outside))
    if label:
        low = outside.lower()
        near = [x for x in found if label in low[max(0, x.start() - len(label) - 3) : x.start()]
                or label in low[x.end() : x.end() + len(label) + 2]]
        if near:
            found = near
        elif label not in low:
            return ""  # names a setting the previous request did not have
    if len(found) != 1:
        return ""
    x = found[0]
    return previous_question[: x.start()] + value + previous_question[x.end() :]


_ASKING = re.compile(r"为什么|为何|为啥|什么|怎么|如何|吗|哪|是不是|\b(?:why|what|how|which|is|are|does|do)\b", re.I)
# "换个随机种子呢？" / "再来一次": the same seeded demo (BERT's random masking, attention over a sentence's
# seeded embeddings) drawn again with the next seed
_REROLL = re.compile(r"换一?个?(?:随机)?种子|换个随机|再(?:来|试|随机|抽)一次|重新随机|another\s+(?:random\s+)?seed|again|re-?roll", re.I)


# "V 换成 [[0,1],[1,0]] 呢？": one matrix of an attention request changed (its commas end no ellipsis here)
_MATRIX_CHANGE = re.compile(r"^\s*(?:那|把)?\s*(?P<x>[QKVqkv]\s*(?:换成|改成|改为|变成|=|＝|:|：)\s*\[.*\])\s*(?:呢|的话|会怎样|会怎么样)?\s*[？?]?\s*$")
_CHANGED_TO = re.compile(r"^(.{1,12}?)\s*(?:换成|改成|改为|变成|设为|设成)\s*")


def rewrite_demo_option(question: str, previous_question: str, kind: str | None = None) -> str:
    """'那用加一平滑呢？' after '用 bigram 给“我 爱 学习”打分' becomes '用加一平滑，用 bigram 给“我 爱 学习”打分',
    and '那长度 2、4、6 呢？' after '长度为 3 和 5 的 padding mask' the same mask for lengths 2, 4 and 6: a
    demo request asked again with a setting added or changed (smoothing, heads, lengths, a causal mask,
    a layer, a matrix: "V 换成 [[0,1],[1,0]] 呢？", the seed: "换个随机种子呢？" draws again with the next one).
    The follow-up's words go before the previous request, so the demo's parser, which reads the first
    setting it finds, reads the new one.
    '' when the parser then reads the same request, when the follow-up asks something ("为什么要平滑呢？"),
    or when the previous question was not a demo request. The request stays the previous one's kind:
    "加上因果掩码呢" after an attention demo is masked attention. `kind`: the previous request's, when the
    caller has read it already."""
    from tutor.tools.parsing import parse_attention_query, parse_mask_query, parse_ngram_query

    m = _ELLIPSIS_ZH.match(question) or _ELLIPSIS_EN.match(question) or _MATRIX_CHANGE.match(question)
    if not m or not previous_question:
        return ""
    new = (m.groupdict().get("x") or m.groupdict().get("y") or "").strip()
    if not new or (_ASKING.search(new) and not _REROLL.search(new)):
        return ""
    new = _CHANGED_TO.sub(r"\1=", new)  # "V 换成 [[0,1],[1,0]]" → "V=[[0,1],[1,0]]", "seed 改成 3" → "seed=3"
    kind = kind or classify(previous_question).kind
    if kind == "gpt_attention":
        from tutor.tools.gpt_attention import parse_gpt_attention_query as parse
    else:
        parse = {"attention": parse_attention_query, "ngram": parse_ngram_query, "mask": parse_mask_query}.get(kind)
    if parse is None:
        return ""
    try:
        before = parse(previous_question)
        if _REROLL.search(new):
            new = f"seed={int(before.get('seed') or 0) + 1}"
        asked = f"{new}，{previous_question}"
        changed = parse(asked) != before
    except Exception:  # noqa: BLE001 - a request the parser cannot read is not this kind of follow-up
        return ""
    return asked if changed else ""


# "能详细一点吗？" / "还有呢？" / "tell me more": more of the previous answer's subject, not a new question
_MORE = re.compile(
    r"^\s*(?:老师|那|那么|嗯|ok|okay|好的?)?[，,\s]*(?:"
    r"(?:能不能|可不可以|能|可以|请)?(?:你)?(?:再|更)?(?:说|讲|解释)?(?:得)?(?:详细|具体|深入|展开|多)(?:一点|一些|点|些)?(?:地|的)?"
    r"(?:说说|讲讲|说一下|讲一下|解释一下|介绍一下|聊聊|说|讲|解释|介绍)?(?:一点|一些|点|些)?"
    r"|还有(?:别的|其他的?|什么|更多的?)?(?:内容)?|(?:继续|接着)(?:说|讲)?(?:下去)?|然后呢|"
    # not understood: the same question, explained by passages not quoted yet
    r"(?:我)?(?:还是)?(?:没|没有|不太|不)(?:听|看)?(?:懂|明白)(?:[，,\s]*(?:能|可以)?(?:再)?换(?:个|一个|种|一种)(?:说法|方式|角度)(?:说说|讲讲|解释一下|讲|说)?)?|"
    r"(?:能|可以)?(?:再)?换(?:个|一个|种|一种)(?:说法|方式|角度)(?:说说|讲讲|解释一下|讲|说)?|"
    r"i\s+(?:still\s+)?(?:don'?t|do\s+not)\s+(?:get|understand)(?:\s+(?:it|that))?|(?:can\s+you\s+)?explain\s+(?:it\s+)?(?:differently|another\s+way)|"
    r"(?:(?:can|could|would)\s+you\s+)?(?:please\s+)?(?:tell\s+me\s+(?:some\s+)?more|say\s+more|explain\s+(?:it\s+)?(?:more|further|in\s+more\s+detail)|"
    r"elaborate|go\s+on|continue|keep\s+going|(?:some\s+)?more(?:\s+details?)?|anything\s+else|what\s+else)(?:\s+please)?(?:\s+(?:on|about)\s+(?:that|this|it))?"
    r")\s*(?:吗|嘛|呢|吧|啊|呀|please)?[\s?？!！。.~～]*$", re.I)


def asks_more(text: str) -> bool:
    """Whether a message only asks for more of what was just answered ("能详细一点吗？", "还有呢？", "继续",
    "Tell me more", "Can you elaborate?"), or says it was not understood ("没听懂，能换个说法吗？", "I don't
    get it"): the previous question again, answered from passages not quoted yet."""
    return bool(_MORE.match(text))


def rewrite_code_request(question: str, previous_question: str) -> str:
    """'那 softmax 呢？' after '给我看看因果掩码的代码' becomes '给我看看softmax的代码': the code of another topic
    (one tutor.tools.code has). '' when the question is not such an ellipsis or names no other such topic."""
    m = _ELLIPSIS_ZH.match(question) or _ELLIPSIS_EN.match(question)
    before = code_topic(previous_question)
    if not m or before is None:
        return ""
    new = (m.group("x") or m.group("y") or "").strip()
    snippet = named_snippet(new)
    if snippet is None or snippet.key == before.key:
        return ""
    return f"Show me the code for {new}" if language_of(question) == "en" else f"给我看看{new}的代码"


# A question about the numbers a demo just showed ("为什么第一行第一个权重更大？", "Why is q0's first weight
# the largest?"): why / how, and which numbers — a comparison or a numbered row or entry, not a concept
# question asked after the demo ("为什么要除以根号 dk？", "为什么每行和为 1？" are for the notes).
_WHY = re.compile(r"为什么|为啥|为何|怎么(?:会|算出|得到|来的)|\bwhy\b|\bhow come\b|\bhow (?:is|are|was|did)\b", re.I)
_COMPARED = (r"最大|更大|最小|更小|最高|更高|最低|更低|这么(?:大|小|高|低)|一样|相同|相等|第\s*(?:[一二三四五六七八九十]|\d)|"
             r"\b(?:larger|largest|bigger|biggest|higher|highest|smaller|smallest|lower|lowest|same|equal)\b")
_WHICH_NUMBERS = {
    "attention": re.compile(_COMPARED + r"|\b[qk]\d\b|这个(?:权重|数|值|分数)|\b(?:first|second|third|last)\s+(?:row|weight|query|key)", re.I),
    # an n-gram score: a probability or the perplexity, a zero ("为什么“爱”的概率是 0？")
    "ngram": re.compile(_COMPARED + r"|概率|困惑度|probabilit|perplexity|(?<![\d.])0(?![\d.])|零|-?inf", re.I),
}


def rewrite_demo_why(question: str, previous_question: str, kind: str) -> str:
    """'为什么第一行第一个权重更大？' after an attention request, or '为什么“爱”的概率是 0？' after an n-gram
    score, becomes that request with its steps shown ("显示计算步骤，…"): the scores the weights come from,
    the counts each probability comes from, are the answer. '' for other demos and other questions
    ("为什么要平滑呢？" is for the notes)."""
    which = _WHICH_NUMBERS.get(kind)
    if which is None or not _WHY.search(question) or not which.search(question):
        return ""
    if asks_for_steps(previous_question):
        return ""  # the steps were shown already
    # before the request, which may end with its data after a colon ("…打分：我 爱 你")
    return f"显示计算步骤，{previous_question}"


# "和全量微调比有什么好处？" / "跟 BERT 相比呢？" / "Compared with BERT?": a comparison that leaves out its first
# side, the conversation's topic.
_COMPARED_TO = re.compile(r"^\s*(?:那|那么)?\s*(?:和|跟|与|比起|相比|相较于?)\s*\S|^\s*(?:(?:and\s+)?(?:compared\s+(?:to|with)|versus|vs\.?|in\s+comparison\s+(?:to|with)))\s", re.I)


def resolve_followup(question: str, previous_topic: str, previous_question: str = "") -> str:
    """Make a follow-up self-contained: '它的预训练任务有哪些？' after a BERT question becomes
    'BERT 它的预训练任务有哪些？', and '那 GPT-3 呢？' after 'GPT-2 有多少参数？' becomes 'GPT-3 有多少参数？'
    (when the previous question is given). Questions that name their own topic are returned unchanged."""
    rewritten = rewrite_ellipsis(question, previous_question, previous_topic)
    if rewritten:
        return rewritten
    named = topic_of(question).lower()
    if not previous_topic or previous_topic.lower() in question.lower() or (named and named in previous_topic.lower()):
        return question
    main = topic_of(question, extra=False)
    one_side = _COMPARED_TO.match(question) and len(subject_terms(question)) <= 1  # not "和 BERT 相比，GPT …"
    if _PRONOUN.search(question) or one_side or (not main and (_CHOICE.search(question) or len(question) <= 12)):
        return f"{previous_topic} {question}"
    return question
