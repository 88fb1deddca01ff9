// The console's one script (served as is, no build step): live updates of a run's page, and passkeys through the
// browser's WebAuthn API (navigator.credentials). Without it the pages still read; answers go unsigned.

const b64url = {
  encode(buffer) {
    const bytes = new Uint8Array(buffer);
    let text = '';
    for (const byte of bytes) text += String.fromCharCode(byte);
    return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  },
  decode(text) {
    const base64 = text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4);
    return Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
  },
};

async function post(url, fields) {
  const response = await fetch(url, {
    method: 'POST',
    body: new URLSearchParams(fields),
    headers: { Accept: 'application/json' },
    credentials: 'same-origin',
  });
  try {
    return await response.json();
  } catch {
    return { counted: false, error: `the console answered ${response.status}`, message: `the console answered ${response.status}` };
  }
}

function say(element, counted, text) {
  if (!element) return;
  element.textContent = text;
  element.className = counted === null ? 'pending' : counted ? 'counted' : 'refused';
}

// ------------------------------------------------------------------------------------------------ a run, live

let refreshNow = () => {};
const live = document.querySelector('[data-live]');
if (live) {
  let busy = false;
  const refresh = async () => {
    if (busy) return;
    busy = true;
    try {
      const response = await fetch(live.dataset.live, { headers: { Accept: 'application/json' } });
      if (!response.ok) return;
      const state = await response.json();
      for (const [name, markup] of Object.entries(state.parts)) {
        const part = document.querySelector(`[data-part="${name}"]`);
        if (!part) continue;
        // The gates only when they changed: a half-written answer stays.
        if (name === 'gates') {
          if (part.dataset.gatesKey === state.gatesKey) continue;
          part.dataset.gatesKey = state.gatesKey;
        }
        if (part.innerHTML !== markup) part.innerHTML = markup;
      }
      if (state.ended) {
        clearInterval(timer);
        document.querySelector('section.abort')?.remove();
      }
    } catch {
      // The console is away for a moment: the next tick tries again.
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(refresh, 1500);
  refreshNow = refresh;
}

// ------------------------------------------------------------------------------------------------ answers

document.addEventListener('submit', async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.matches('form[data-answer]')) return;
  event.preventDefault();
  const result = document.getElementById('answer-result');
  const fields = new URLSearchParams(new FormData(form, event.submitter));
  const buttons = form.querySelectorAll('button');
  buttons.forEach((button) => (button.disabled = true));
  try {
    if (fields.get('sign') === 'passkey') {
      if (!window.PublicKeyCredential) {
        say(result, false, 'This browser has no passkeys: untick "Sign with my passkey" to answer unsigned.');
        return;
      }
      say(result, null, 'Preparing the statement to sign…');
      const issued = await post(form.dataset.statement, fields);
      if (issued.error) {
        say(result, false, `Did not count: ${issued.error}`);
        return;
      }
      say(result, null, 'Sign with your passkey…');
      const credential = await navigator.credentials.get({
        publicKey: { challenge: b64url.decode(issued.challenge), rpId: issued.rpId, userVerification: 'preferred', timeout: 120000 },
      });
      const response = credential.response;
      fields.set('statement', issued.statement);
      fields.set('credentialId', credential.id);
      fields.set('authenticatorData', b64url.encode(response.authenticatorData));
      fields.set('clientDataJSON', b64url.encode(response.clientDataJSON));
      fields.set('signature', b64url.encode(response.signature));
      if (response.userHandle && response.userHandle.byteLength > 0) fields.set('userHandle', b64url.encode(response.userHandle));
    }
    fields.delete('sign');
    say(result, null, 'Sending…');
    // form.action would be the button named action: the attribute is the address.
    const outcome = await post(form.getAttribute('action'), fields);
    say(result, outcome.counted, `${outcome.counted ? 'Counted' : 'Did not count'}: ${outcome.message}`);
    await refreshNow();
  } catch (error) {
    say(result, false, `Not sent: ${error.message}`);
  } finally {
    buttons.forEach((button) => (button.disabled = false));
  }
});

// ------------------------------------------------------------------------------------------------ enrolment

const enrol = document.querySelector('form[data-enrol]');
enrol?.addEventListener('submit', async (event) => {
  event.preventDefault();
  const result = document.getElementById('enrol-result');
  const line = document.getElementById('enrol-line');
  const fields = new URLSearchParams(new FormData(enrol));
  try {
    if (!window.PublicKeyCredential) throw new Error('this browser has no passkeys (WebAuthn)');
    say(result, null, 'Preparing…');
    const options = await post('/enrol/options', fields);
    if (options.error) throw new Error(options.error);
    say(result, null, 'Create the passkey on your device…');
    const credential = await navigator.credentials.create({
      publicKey: {
        ...options,
        challenge: b64url.decode(options.challenge),
        user: { ...options.user, id: b64url.decode(options.user.id) },
        excludeCredentials: (options.excludeCredentials ?? []).map((entry) => ({ ...entry, id: b64url.decode(entry.id) })),
      },
    });
    const response = credential.response;
    fields.set(
      'credential',
      JSON.stringify({
        id: credential.id,
        rawId: b64url.encode(credential.rawId),
        type: credential.type,
        response: {
          clientDataJSON: b64url.encode(response.clientDataJSON),
          attestationObject: b64url.encode(response.attestationObject),
          transports: response.getTransports ? response.getTransports() : [],
        },
      }),
    );
    const enrolled = await post('/enrol/verify', fields);
    if (enrolled.error) throw new Error(enrolled.error);
    say(result, true, `Passkey created for ${enrolled.person}. Give this line to the estate's administrator, who adds it to the passkeys file (signatures.passkeys); until then it signs nothing that counts:`);
    line.textContent = enrolled.line;
    line.hidden = false;
  } catch (error) {
    say(result, false, `No passkey enrolled: ${error.message}`);
  }
});
