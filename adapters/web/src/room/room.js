// The browser room's script: follows the room live and posts its forms without leaving the
// page. Served by the room's own server as /room.js; it asks nothing of any other origin.
(function () {
  'use strict';
  var root = document.getElementById('room');
  if (!root) return;
  var room = root.getAttribute('data-room');
  var csrf = root.getAttribute('data-csrf');
  var list = document.getElementById('events');
  var status = document.getElementById('connection');
  var clock = new Intl.DateTimeFormat([], { hour: '2-digit', minute: '2-digit' });

  function localTimes(node) {
    node.querySelectorAll('time[datetime]:not(.full)').forEach(function (t) {
      var d = new Date(t.getAttribute('datetime'));
      if (!isNaN(d)) t.textContent = clock.format(d);
    });
  }

  function nonce() {
    var bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ('0' + b.toString(16)).slice(-2);
    }).join('');
  }

  function say(node, text) {
    if (node) node.textContent = text;
  }

  // Posts `fields` to the room's `action` (a file's form as multipart, the others as a plain
  // form); resolves to the server's JSON answer.
  function send(action, fields, multipart) {
    var body = multipart ? fields : new URLSearchParams(fields);
    return fetch(action, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'x-hashchat-room': '1' },
      body: body
    }).then(function (r) {
      return r.json().catch(function () {
        return { error: 'The server answered ' + r.status + '.' };
      });
    }, function () {
      return { error: 'The server cannot be reached; nothing was lost: send it again in a moment.' };
    });
  }

  // The line under the title follows the steps as they are posted.
  function showStep(label) {
    var line = document.getElementById('room-state');
    if (!line) return;
    var points = root.getAttribute('data-points');
    if (/^Q\d+$/.test(label)) line.textContent = 'Live now: ' + label + ' of ' + points + '.';
    else if (label === 'Wrap-up') line.textContent = 'The session is over: thank you for joining.';
  }

  // ---- the live room ----
  if (list) {
    localTimes(list);
    var nearBottom = function () {
      return window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;
    };
    var apply = function (frame) {
      if (frame.op === 'add' && frame.html) {
        if (document.getElementById('e-' + frame.seq)) return;
        if (root.getAttribute('data-live') === '0' && frame.html.indexOf('room-post') !== -1) {
          // The session has started: the page now has a conversation to show.
          window.location.reload();
          return;
        }
        var follow = nearBottom();
        var item = document.createElement('li');
        item.innerHTML = frame.html; // made by the server, everything people wrote escaped
        localTimes(item);
        list.appendChild(item);
        var label = item.querySelector('.room-post .label');
        if (label) showStep(label.textContent);
        if (follow) item.scrollIntoView({ block: 'end' });
      } else if (frame.op === 'edit') {
        var target = document.getElementById('e-' + frame.target);
        var old = target && target.querySelector('.body');
        if (old) {
          var holder = document.createElement('div');
          holder.innerHTML = frame.html;
          if (holder.firstElementChild) old.replaceWith(holder.firstElementChild);
        }
      } else if (frame.op === 'delete') {
        var gone = document.getElementById('e-' + frame.target);
        if (gone && gone.parentElement) gone.parentElement.remove();
      }
    };
    var after = root.getAttribute('data-after') || '0';
    var source = new EventSource('/r/' + encodeURIComponent(room) + '/events?after=' + after);
    source.onopen = function () { say(status, 'Connected: new messages appear as they are sent.'); };
    source.onerror = function () { say(status, 'Connection lost: reconnecting…'); };
    source.onmessage = function (e) {
      try { apply(JSON.parse(e.data)); } catch (err) { /* a frame this page cannot read */ }
    };

    list.addEventListener('click', function (e) {
      var button = e.target.closest('button[data-act]');
      if (!button) return;
      var article = button.closest('[data-seq]');
      if (!article) return;
      var seq = article.getAttribute('data-seq');
      var act = button.getAttribute('data-act');
      if (act === 'reply') {
        var form = document.getElementById('say');
        if (!form) return;
        var field = form.querySelector('input[name=reply_to]');
        field.value = seq;
        field.disabled = false;
        var note = document.getElementById('replying');
        note.hidden = false;
        note.querySelector('span').textContent = 'Replying to ' + (article.getAttribute('data-author') || 'a message');
        form.querySelector('textarea').focus();
      } else if (act === 'react') {
        send('/r/' + room + '/react', { target: seq, key: button.getAttribute('data-key'), nonce: nonce(), csrf: csrf })
          .then(function (answer) { if (answer.error) say(status, answer.error); });
      } else if (act === 'hide') {
        send('/r/' + room + '/command', { text: 'hide', reply_to: seq, nonce: nonce(), csrf: csrf })
          .then(function (answer) { if (answer.error) say(status, answer.error); });
      } else if (act === 'block') {
        if (!window.confirm('Block ' + (article.getAttribute('data-author') || 'them') + ' from posting here?')) return;
        send('/r/' + room + '/block', { target: seq, csrf: csrf })
          .then(function (answer) { if (answer.error) say(status, answer.error); });
      }
    });
  }

  var cancel = document.getElementById('cancel-reply');
  if (cancel) {
    cancel.addEventListener('click', function () {
      var form = document.getElementById('say');
      var field = form.querySelector('input[name=reply_to]');
      field.value = '';
      field.disabled = true;
      document.getElementById('replying').hidden = true;
      form.querySelector('textarea').focus();
    });
  }

  // ---- the forms ----
  function enhance(form, done) {
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      var out = form.querySelector('.form-status') ||
        (form.closest('section') || document).querySelector('.form-status');
      var button = form.querySelector('button[type=submit]');
      if (button) button.disabled = true;
      var fields = new FormData(form);
      var multipart = form.getAttribute('enctype') === 'multipart/form-data';
      send(form.getAttribute('action'), fields, multipart).then(function (answer) {
        if (button) button.disabled = false;
        if (answer.error) {
          say(out, answer.error); // the text stays in its box
          return;
        }
        say(out, '');
        var fresh = form.querySelector('input[name=nonce]');
        if (fresh) fresh.value = nonce();
        done(answer, fields);
      });
    });
  }

  var join = document.getElementById('join');
  if (join) enhance(join, function () { window.location.reload(); });

  var composer = document.getElementById('say');
  if (composer) {
    var text = composer.querySelector('textarea');
    enhance(composer, function (answer, sent) {
      // What was typed meanwhile, and a reply chosen meanwhile, stay.
      if (text.value === sent.get('body')) text.value = '';
      var replyTo = composer.querySelector('input[name=reply_to]');
      if (cancel && (replyTo.disabled ? null : replyTo.value) === sent.get('reply_to')) cancel.click();
      text.focus();
    });
    text.addEventListener('keydown', function (e) {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        composer.requestSubmit();
      }
    });
  }

  document.querySelectorAll('form.command').forEach(function (form) {
    enhance(form, function () {
      var typed = form.querySelector('input[name=text]:not([type=hidden])');
      if (typed) typed.value = '';
    });
  });

  var share = document.getElementById('share');
  if (share) enhance(share, function () { share.reset(); });

  var rsvp = document.getElementById('rsvp');
  if (rsvp) {
    enhance(rsvp, function (answer) {
      var out = rsvp.querySelector('.form-status');
      out.textContent = 'Thank you, ' + answer.name + ': you are on the list. ';
      if (answer.calendar) {
        var link = document.createElement('a');
        link.href = answer.calendar;
        link.textContent = 'Add the sessions to your calendar (iCal)';
        out.appendChild(link);
      }
    });
  }
})();
