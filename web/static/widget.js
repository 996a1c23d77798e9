// kefu chat widget loader. Put it on any page:
//   <script src="https://SHOP/kefu/widget.js" data-key="WIDGET_KEY" data-locale="zh"
//           data-product-id="SKU" data-customer-token="TOKEN" async></script>
// It draws a launcher button in a shadow root and opens the chat
// (the /chat page of the same kefu) in an iframe, so that the host page's
// styles and the chat's cannot touch each other. The key must be a widget
// key: it is public, every visitor can read it.
(() => {
  const me = document.currentScript;
  if (!me || window.__kefuWidget) return;
  window.__kefuWidget = true;
  const d = me.dataset;
  const origin = new URL(me.src, location.href).origin;
  const nav = (navigator.language || '').toLowerCase();
  const locale = d.locale === 'zh' || d.locale === 'en' ? d.locale : nav.startsWith('zh') ? 'zh' : 'en';
  const label = locale === 'zh' ? ['在线客服', '关闭聊天'] : ['Chat with us', 'Close the chat'];
  // The key, token and product travel in the fragment: never sent to a
  // server, never in a Referer or an access log.
  const frag = new URLSearchParams();
  if (d.key) frag.set('key', d.key);
  if (d.customerToken) frag.set('token', d.customerToken);
  if (d.productId) frag.set('product', d.productId);
  frag.set('locale', locale);
  const src = origin + '/chat?embed=1&locale=' + locale + '#' + frag;

  const host = document.createElement('div');
  host.setAttribute('data-kefu-widget', '');
  const root = host.attachShadow({ mode: 'open' });
  const css = `:host{all:initial}
.btn{position:fixed;right:16px;bottom:16px;z-index:2147483646;display:flex;align-items:center;gap:8px;height:52px;padding:0 18px;border:0;border-radius:26px;background:#14532d;color:#fff;font:600 15px/1 system-ui,-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;box-shadow:0 4px 14px rgba(0,0,0,.25);cursor:pointer}
.btn:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
.dot{width:10px;height:10px;border-radius:50%;background:#f59e0b;display:none}
.unread .dot{display:block}
.panel{position:fixed;right:16px;bottom:80px;z-index:2147483647;width:380px;height:min(620px,calc(100vh - 100px));border:0;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.3);background:#fff;display:none}
.open .panel{display:block}
@media (max-width:480px){.panel{right:0;bottom:0;width:100vw;height:100%;border-radius:0}.open .btn{display:none}}`;
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(css);
  root.adoptedStyleSheets = [sheet];
  const wrap = document.createElement('div');
  const btn = document.createElement('button');
  btn.type = 'button';
  btn.className = 'btn';
  btn.setAttribute('aria-expanded', 'false');
  btn.setAttribute('aria-controls', 'kefu-panel');
  const dot = document.createElement('span');
  dot.className = 'dot';
  btn.append(dot, document.createTextNode(label[0]));
  const frame = document.createElement('iframe');
  frame.className = 'panel';
  frame.id = 'kefu-panel';
  frame.title = label[0];
  frame.src = src;
  frame.setAttribute('allow', 'clipboard-write');
  wrap.append(frame, btn);
  root.append(wrap);

  const toggle = (open) => {
    wrap.classList.toggle('open', open);
    btn.setAttribute('aria-expanded', String(open));
    btn.lastChild.textContent = open ? label[1] : label[0];
    if (open) { wrap.classList.remove('unread'); frame.focus(); } else btn.focus();
  };
  btn.addEventListener('click', () => toggle(!wrap.classList.contains('open')));
  addEventListener('message', (e) => {
    if (e.origin !== origin || e.source !== frame.contentWindow || !e.data) return;
    if (e.data.kefu === 'close') toggle(false);
    if (e.data.kefu === 'unread' && !wrap.classList.contains('open')) wrap.classList.add('unread');
  });
  const mount = () => {
    document.body.append(host);
    if (performance.mark) performance.mark('kefu-widget-rendered');
    if (d.open === 'true') toggle(true);
  };
  if (document.body) mount(); else addEventListener('DOMContentLoaded', mount);
  window.kefuWidget = { open: () => toggle(true), close: () => toggle(false) };
})();
