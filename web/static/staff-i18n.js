// The console's and the dashboard's strings, in English and Chinese.
const common = {
  en: {
    navLabel: 'Account and language', otherLanguage: '中文', signedInAs: 'Signed in as', signOut: 'Sign out',
    signIn: 'Sign in', signInFailed: 'Sign-in failed: that key is not valid here.',
    wrongRole: 'That key may not sign in here.', tooMany: 'Too many failed attempts; wait a minute and try again.',
    sec: 's', min: 'min', hour: 'h', loading: 'Loading…', failed: 'Something went wrong:', none: 'None',
  },
  zh: {
    navLabel: '账户与语言', otherLanguage: 'English', signedInAs: '已登录：', signOut: '退出登录',
    signIn: '登录', signInFailed: '登录失败：此密钥无效。',
    wrongRole: '此密钥不能在这里登录。', tooMany: '失败次数过多，请稍等一分钟再试。',
    sec: '秒', min: '分钟', hour: '小时', loading: '加载中…', failed: '出错了：', none: '无',
  },
};

const consoleText = {
  en: {
    title: 'kefu · Agent console', signInTitle: 'Agent sign-in', keyLabel: 'Agent key',
    keyHelp: 'Enter your agent key once; the browser keeps only a session, never the key.',
    queue: 'Ticket queue', team: 'Team', allTeams: 'All teams', state: 'State', priority: 'Priority', anyPriority: 'Any priority',
    st_active: 'Active', st_open: 'Open', st_claimed: 'Claimed', st_closed: 'Closed', st_all: 'All',
    pr_urgent: 'Urgent', pr_high: 'High', pr_normal: 'Normal',
    empty: 'No tickets here.', pick: 'Pick a ticket from the queue.', tickets: (n) => `${n} tickets in the queue`,
    ticket: 'Ticket', reason: 'Reason', intent: 'Intent', sentiment: 'Sentiment', orders: 'Orders', customer: 'Customer',
    anonymous: 'anonymous', assignee: 'Assignee', status: 'Status', locale: 'Language',
    transcript: 'Conversation', tried: 'What kefu tried', sources: 'Sources kefu cited', notes: 'Internal notes',
    role_user: 'Shopper', role_assistant: 'kefu', role_agent: 'Agent',
    claim: 'Claim', claimed: 'Claimed by', suggestion: 'Suggested reply', suggesting: 'Drafting a reply from the knowledge base…',
    noSuggestion: 'The knowledge base has no answer to this; write your own reply.',
    useSuggestion: 'Use this reply', redraft: 'Draft again', answersQ: 'Answers:',
    reply: 'Reply to the shopper', send: 'Send reply', sent: 'Reply sent.',
    note: 'Internal note (the shopper never sees it)', addNote: 'Add note', noted: 'Note added.',
    outcome: 'Outcome', oc_resolved: 'Resolved', oc_abandoned: 'Abandoned', resolve: 'Resolve', resolved: 'Ticket closed.',
    r_requested: 'asked for a person', r_anger: 'anger', r_legal: 'legal threat', r_no_knowledge: 'no answer in the knowledge',
    r_safety: 'safety', r_sensitive: 'sensitive topic', r_repeated_failure: 'repeated failure', r_ungrounded: 'unchecked answer',
  },
  zh: {
    title: 'kefu · 客服工作台', signInTitle: '客服登录', keyLabel: '客服密钥',
    keyHelp: '只需输入一次客服密钥；浏览器只保存会话，从不保存密钥。',
    queue: '工单队列', team: '团队', allTeams: '全部团队', state: '状态', priority: '优先级', anyPriority: '全部优先级',
    st_active: '进行中', st_open: '待处理', st_claimed: '已认领', st_closed: '已关闭', st_all: '全部',
    pr_urgent: '紧急', pr_high: '高', pr_normal: '普通',
    empty: '这里没有工单。', pick: '请从队列中选择一个工单。', tickets: (n) => `队列中有 ${n} 个工单`,
    ticket: '工单', reason: '原因', intent: '意图', sentiment: '情绪', orders: '订单', customer: '顾客',
    anonymous: '匿名', assignee: '处理人', status: '状态', locale: '语言',
    transcript: '对话记录', tried: 'kefu 已尝试', sources: 'kefu 引用的来源', notes: '内部备注',
    role_user: '顾客', role_assistant: 'kefu', role_agent: '客服',
    claim: '认领', claimed: '认领人', suggestion: '建议回复', suggesting: '正在根据知识库起草回复…',
    noSuggestion: '知识库中没有答案，请自行回复。',
    useSuggestion: '使用此回复', redraft: '重新起草', answersQ: '回答：',
    reply: '回复顾客', send: '发送回复', sent: '回复已发送。',
    note: '内部备注（顾客看不到）', addNote: '添加备注', noted: '备注已添加。',
    outcome: '结果', oc_resolved: '已解决', oc_abandoned: '已放弃', resolve: '关闭工单', resolved: '工单已关闭。',
    r_requested: '要求人工', r_anger: '情绪激动', r_legal: '法律威胁', r_no_knowledge: '知识库无答案',
    r_safety: '安全问题', r_sensitive: '敏感话题', r_repeated_failure: '多次失败', r_ungrounded: '答案未通过核查',
  },
};

const adminText = {
  en: {
    title: 'kefu · Admin dashboard', signInTitle: 'Admin sign-in', keyLabel: 'Admin key',
    keyHelp: 'Enter your admin key once; the browser keeps only a session, never the key.',
    period: 'Period', from: 'From', to: 'To (inclusive)', apply: 'Show',
    overview: 'Overview', conversations: 'Conversations', resolution: 'Resolved without a person', escalation: 'Escalation rate',
    tickets: 'Tickets', feedbackUp: 'Helpful', feedbackDown: 'Not helpful', firstResponse: 'First response (median)',
    ttr: 'Time to resolution (median)', perDay: 'Conversations and tickets per day', reasons: 'Escalation reasons',
    intents: 'Top intents', feedback: 'Answer feedback', gaps: 'Knowledge gaps', gapsHelp: 'Questions kefu could not answer, grouped.',
    question: 'Question', count: 'Times asked', lastAsked: 'Last asked', addFaq: 'Add an FAQ entry', noGaps: 'No knowledge gaps in this period.',
    documents: 'Documents', search: 'Search documents', docId: 'Document', type: 'Type', chunks: 'Chunks', actions: 'Actions',
    view: 'Chunks', remove: 'Delete', confirmDelete: (id) => `Delete ${id} and its chunks?`, deleted: 'Deleted.',
    chunksOf: (id) => `Chunks of ${id}`, close: 'Close',
    upload: 'Upload documents', files: 'Files', uploadBtn: 'Upload', uploaded: 'Upload result',
    editor: 'Document editor', fileName: 'File name', docTitle: 'Title', body: 'Content (Markdown)', save: 'Upload document',
    gate: 'Knowledge-change gate', gatePassed: 'passed', gateFailed: 'failed, rolled back', gateNone: 'not configured',
    summary: (s) => `${s.files} files, ${s.documents} documents, ${s.chunks} chunks, ${(s.failed || []).length} failed`,
    days: 'Day', series_conv: 'Conversations', series_tickets: 'Tickets', up: 'Helpful', down: 'Not helpful',
    chartAlt: (name) => `Chart: ${name}. The same figures are in the table below it.`,
    evaluation: 'Evaluation', evalHelp: 'Run the shop’s golden set through the real pipeline.', runEval: 'Run the golden set',
    evalRunning: 'Running…', failedCases: 'Failed cases',
  },
  zh: {
    title: 'kefu · 管理后台', signInTitle: '管理员登录', keyLabel: '管理员密钥',
    keyHelp: '只需输入一次管理员密钥；浏览器只保存会话，从不保存密钥。',
    period: '时间段', from: '开始', to: '结束（含）', apply: '查看',
    overview: '概览', conversations: '会话数', resolution: '无需人工解决', escalation: '转人工率',
    tickets: '工单数', feedbackUp: '有帮助', feedbackDown: '没帮助', firstResponse: '首次响应（中位数）',
    ttr: '解决时长（中位数）', perDay: '每日会话与工单', reasons: '转人工原因',
    intents: '热门意图', feedback: '回答反馈', gaps: '知识缺口', gapsHelp: 'kefu 无法回答的问题，按问题分组。',
    question: '问题', count: '次数', lastAsked: '最近一次', addFaq: '添加常见问题', noGaps: '此时间段没有知识缺口。',
    documents: '文档', search: '搜索文档', docId: '文档', type: '类型', chunks: '分块', actions: '操作',
    view: '分块', remove: '删除', confirmDelete: (id) => `删除 ${id} 及其分块？`, deleted: '已删除。',
    chunksOf: (id) => `${id} 的分块`, close: '关闭',
    upload: '上传文档', files: '文件', uploadBtn: '上传', uploaded: '上传结果',
    editor: '文档编辑器', fileName: '文件名', docTitle: '标题', body: '内容（Markdown）', save: '上传文档',
    gate: '知识变更检查', gatePassed: '通过', gateFailed: '未通过，已回滚', gateNone: '未配置',
    summary: (s) => `${s.files} 个文件，${s.documents} 篇文档，${s.chunks} 个分块，${(s.failed || []).length} 个失败`,
    days: '日期', series_conv: '会话', series_tickets: '工单', up: '有帮助', down: '没帮助',
    chartAlt: (name) => `图表：${name}。下方表格列出相同数据。`,
    evaluation: '评测', evalHelp: '用真实流程运行本店的标准测试集。', runEval: '运行标准测试集',
    evalRunning: '运行中…', failedCases: '失败用例',
  },
};

export function consoleStrings(locale) {
  return { ...common[locale], ...consoleText[locale] };
}

export function adminStrings(locale) {
  return { ...common[locale], ...adminText[locale] };
}
